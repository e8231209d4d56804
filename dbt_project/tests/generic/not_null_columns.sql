{#-
    No value of `column_names` is null: one scan of the model for all of them, where dbt's not_null reads the table
    once per column and is one more node for dbt to run (the 257 not_null tests were about a quarter of a small
    build's time, issue 15). Fails with one row per column holding nulls, naming the column and how many rows.
    A column whose not-null only holds for some rows keeps dbt's not_null with a `where`; a mart's columns are
    constrained not null by its enforced contract instead, which PostgreSQL checks on every insert.
-#}
{% test not_null_columns(model, column_names) %}
    select checked.column_name, checked.null_rows
    from (
        select
            {%- for column in column_names %}
            count(*) filter (where {{ column }} is null) as {{ column }}{{ "," if not loop.last }}
            {%- endfor %}
        from {{ model }}
    ) as counted
    cross join lateral (
        values
            {%- for column in column_names %}
            ('{{ column }}', counted.{{ column }}){{ "," if not loop.last }}
            {%- endfor %}
    ) as checked (column_name, null_rows)
    where checked.null_rows > 0
{% endtest %}
