{#
    Post-hook: fresh planner statistics on a model built as a table, so that the models reading it are planned
    on its real row counts and value distributions (a table dbt has just created has none until autovacuum
    gets to it). A view has no statistics of its own, and the hook renders to nothing for it.
#}
{% macro analyze_table() -%}
    {%- if model.config.materialized in ['table', 'incremental'] -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
