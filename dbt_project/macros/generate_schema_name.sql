{#
    Layers get plain schema names (staging, intermediate), not dbt's <target>_<custom> default, so BI
    and the docs see stable names. Marts are built in a separate schema and only reach `marts` through
    the quality gate's publish step (see include/tealeaves/publish.py).
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif custom_schema_name | trim == 'marts' -%}
        {{ var('marts_build_schema', 'marts_build') }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
