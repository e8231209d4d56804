{#
    Every node and source upstream of `node` in dbt's graph, directly or through other nodes, as unique ids in the
    order a walk from the node reaches them. The one walk of the graph upward: a model's fingerprint
    (incremental_by_key.sql), the raw tables a model reads and a mart's export tables (mart_source_lineage.sql).
    At execution the answer is kept in the graph for the invocation, as run_query_once keeps its answers: a model's
    plan and hooks ask it several times.
#}
{% macro graph_ancestors(node) -%}
    {%- if execute -%}
        {%- set known = graph.setdefault('tealeaves_graph_ancestors', {}) -%}
        {%- if node.unique_id not in known -%}
            {%- do known.update({node.unique_id: walk_graph_ancestors(node)}) -%}
        {%- endif -%}
        {{- return(known[node.unique_id]) -}}
    {%- endif -%}
    {{- return(walk_graph_ancestors(node)) -}}
{%- endmacro %}

{% macro walk_graph_ancestors(node) -%}
    {%- set walk = namespace(frontier=node.depends_on.nodes, seen=[]) -%}
    {#- Jinja has no while: 30 layers is deeper than any path from a source to a mart here. -#}
    {%- for _ in range(30) if walk.frontier -%}
        {%- set upstream = [] -%}
        {%- for uid in walk.frontier if uid not in walk.seen -%}
            {%- do walk.seen.append(uid) -%}
            {%- if uid in graph.nodes -%}
                {%- do upstream.extend(graph.nodes[uid].depends_on.nodes) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set walk.frontier = upstream -%}
    {%- endfor -%}
    {{- return(walk.seen) -}}
{%- endmacro %}
