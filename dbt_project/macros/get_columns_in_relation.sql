{#
    A relation's columns, as dbt-postgres's own macro reads them, but an array's type named: information_schema gives
    every array's data_type as 'ARRAY', which dbt writes back as a type when it adds the column to an incremental
    table (on_schema_change) or types a unit test's fixture, and PostgreSQL rejects. The array type itself is
    udt_schema.udt_name, which format_type names ('bigint[]'; without a type modifier such as numeric's precision).
    A warehouse built before int_company_domains named its companies could not add company_ids
    (tests/integration/test_array_columns_added.py).
#}
{% macro postgres__get_columns_in_relation(relation) -%}
    {% call statement('get_columns_in_relation', fetch_result=True) %}
        select
            column_name,
            case
                when columns.data_type = 'ARRAY' then (
                    select format_type(types.oid, null)
                    from pg_catalog.pg_type as types
                    inner join pg_catalog.pg_namespace as namespaces on types.typnamespace = namespaces.oid
                    where types.typname = columns.udt_name and namespaces.nspname = columns.udt_schema
                )
                else columns.data_type
            end as data_type,
            character_maximum_length,
            numeric_precision,
            numeric_scale
        from {{ relation.information_schema('columns') }} as columns
        where table_name = '{{ relation.identifier }}'
        {% if relation.schema %}
            and table_schema = '{{ relation.schema }}'
        {% endif %}
        order by ordinal_position
    {% endcall %}
    {% set table = load_result('get_columns_in_relation').table %}
    {{ return(sql_convert_columns_in_relation(table)) }}
{%- endmacro %}
