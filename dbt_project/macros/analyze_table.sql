{#
    Post-hook: fresh planner statistics on a model built as a table, so that the models reading it are planned
    on its real row counts and value distributions (a table dbt has just created has none until autovacuum
    gets to it). A view has no statistics of its own, and the hook renders to nothing for it.

    An incremental model's daily run changes a sliver of a table whose statistics exist: it is analyzed, as
    autovacuum would, once the rows changed since its last analysis (earlier runs', as PostgreSQL counts them)
    pass a tenth of the table. Analyzing every incremental table every day cost 0.1 to 0.5 s each at 100,000
    customers, for statistics that barely moved.
#}
{% macro analyze_table() -%}
    {%- if model.config.materialized == 'table' or (model.config.materialized == 'incremental' and not is_incremental()) -%}
        analyze {{ this }}
    {%- elif model.config.materialized == 'incremental' -%}
        do $analyze$
        begin
            if (
                select coalesce(stats.n_mod_since_analyze, 0) > 0.1 * greatest(tables.reltuples, 0) + 50
                    or stats.last_analyze is null and stats.last_autoanalyze is null
                from pg_class as tables
                left join pg_stat_user_tables as stats on tables.oid = stats.relid
                where tables.oid = '"{{ this.schema }}"."{{ this.identifier }}"'::regclass
            ) then
                analyze {{ this }};
            end if;
        end
        $analyze$
    {%- endif -%}
{%- endmacro %}
