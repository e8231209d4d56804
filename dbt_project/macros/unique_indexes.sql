{#
    Post-hook of every model: the unique indexes in a model's `indexes` config exist on its table. An incremental
    model's grain is enforced this way rather than by a unique data test (issue 15): PostgreSQL refuses a duplicate
    key as the run writes it, so no test has to read the whole table after every daily run (1 to 2 s each on the
    customer-month and ticket tables at 100,000 customers), and the run's delete finds its rows through the index.

    dbt creates a model's configured indexes only with its table (first build, --full-refresh). This creates a
    unique one missing from a table built before it was configured, in an incremental run; rows already sharing
    a key then fail the build ("could not create unique index ... Key (...) is duplicated"), as the test would
    have. An index counts when it is unique, on exactly those columns in that order, and neither partial nor on
    expressions.
#}
{% macro ensure_unique_indexes() -%}
    {%- if is_incremental_run() -%}
        {%- for index in config.get('indexes', []) if index.get('unique') -%}
            {%- set found = run_query(unique_index_sql(this, index['columns'])) -%}
            {%- if found.rows | length == 0 -%}
                {%- do log(this.identifier ~ ': creating its unique index on ' ~ index['columns'] | join(', '), info=true) -%}
                {{ get_create_index_sql(this, index) }};
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{# The unique, whole-column index of `relation` on exactly `columns` (none when there is none). #}
{% macro unique_index_sql(relation, columns) -%}
    select indexes.indexrelid
    from pg_index as indexes
    where
        indexes.indrelid = '{{ relation.include(database=false) }}'::regclass
        and indexes.indisunique
        and indexes.indpred is null
        and indexes.indexprs is null
        and array(
            select attributes.attname::text
            from unnest(indexes.indkey::int2[]) with ordinality as keys (attnum, position)
            inner join pg_attribute as attributes
                on attributes.attrelid = indexes.indrelid and attributes.attnum = keys.attnum
            order by keys.position
        ) = array[{% for column in columns %}'{{ column }}'{{ ', ' if not loop.last }}{% endfor %}]::text[]
{%- endmacro %}
