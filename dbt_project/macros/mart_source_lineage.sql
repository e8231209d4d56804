{#
    For every mart, the export tables (source.table) it reads, directly or through staging and intermediate
    models, from dbt's own graph: the lineage is never written down twice. Only sources a company exports
    (the source contracts' billing, crm, support and survey) count; the ledger and the LTV predictions are
    tealeaves' own. Returns a list of dicts: mart, source_name, source_table, raw_relation, required.

    `required`: the mart's config meta `requires_sources` lists the inputs without which it is empty by
    design (a month × segment MRR series needs subscriptions); its other inputs enrich it.
#}
{% macro mart_source_lineage() -%}
    {%- set export_sources = ['billing', 'crm', 'support', 'survey'] -%}
    {%- set lineage = [] -%}
    {%- if execute -%}
        {%- for mart in graph.nodes.values()
            if mart.resource_type == 'model' and mart.fqn[1] == 'marts' and mart.name != this.identifier -%}
            {%- set required = mart.config.meta.get('requires_sources', []) -%}
            {%- for uid in graph_ancestors(mart) | sort if uid in graph.sources -%}
                {%- set src = graph.sources[uid] -%}
                {%- if src.source_name in export_sources -%}
                    {%- do lineage.append({
                        'mart': mart.name,
                        'source_name': src.source_name,
                        'source_table': src.name,
                        'raw_relation': src.schema ~ '.' ~ src.identifier,
                        'required': (src.source_name ~ '.' ~ src.name) in required,
                    }) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(lineage) }}
{%- endmacro %}
