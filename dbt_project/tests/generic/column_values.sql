{#-
    The checks of a model that give a verdict per value, in one scan of the model: no value of a `not_null` column
    is null; every value of an `accepted_values` column ({column: [values]}) is one of its values (a null is
    accepted, as in dbt's accepted_values). dbt's own tests read the table once per column and are one more node
    each for dbt to run (issue 15: the 257 not_null tests alone were a quarter of a small build's time).

    Fails with one row per failing column and check: the column, the check, how many rows fail it, and up to five
    of the values it did not accept. A string value is compared as a quoted literal, any other (a number, true or
    false) as written. A check that holds only for some rows, or only warns, keeps dbt's test with a `where` or a
    severity; a mart's not-null columns are constrained by its enforced contract instead, which PostgreSQL checks
    on every insert.
-#}
{% test column_values(model, not_null=[], accepted_values={}) %}
    {%- set checks = [] -%}
    {%- for column in not_null -%}
        {%- do checks.append({'column': column, 'check': 'not null', 'fails': column ~ ' is null'}) -%}
    {%- endfor -%}
    {%- for column, values in accepted_values.items() -%}
        {%- set literals = [] -%}
        {%- for value in values -%}
            {%- do literals.append("'" ~ value | replace("'", "''") ~ "'" if value is string else value | string) -%}
        {%- endfor -%}
        {%- set fails = 'not (' ~ column ~ ' in (' ~ literals | join(', ') ~ '))' -%}
        {%- do checks.append({'column': column, 'check': 'accepted values', 'fails': fails}) -%}
    {%- endfor %}
    select checked.column_name, checked.failed_check, checked.failing_rows, checked.unaccepted_values
    from (
        select
            {%- for check in checks %}
            count(*) filter (where {{ check.fails }}) as failing_{{ loop.index }},
            {%- if check.check == 'accepted values' %}
            (array_agg(distinct {{ check.column }}::text) filter (where {{ check.fails }}))[1:5]
            {%- else %}
            null::text []
            {%- endif %} as values_{{ loop.index }}{{ "," if not loop.last }}
            {%- endfor %}
        from {{ model }}
    ) as counted
    cross join lateral (
        values
            {%- for check in checks %}
            ('{{ check.column }}', '{{ check.check }}', counted.failing_{{ loop.index }}, counted.values_{{ loop.index }})
            {{- "," if not loop.last }}
            {%- endfor %}
    ) as checked (column_name, failed_check, failing_rows, unaccepted_values)
    where checked.failing_rows > 0
{% endtest %}
