{#
    Walks of dbt's graph upward from `node`, one layer of parents at a time, each walked once per invocation for each
    node (once_per_invocation): a model's plan and hooks ask them several times.
    - graph_ancestors: every node and source upstream, directly or through other nodes, as unique ids in the order
      the walk reaches them. A model's fingerprint (incremental_by_key.sql), the raw tables a model reads and a
      mart's export tables (mart_source_lineage.sql).
    - nearest_recording_upstream: the nodes nearest upstream that record their state (records_state in
      incremental_by_key.sql), walking through any that does not (tables, views).
#}
{% macro graph_ancestors(node) -%}
    {{- return(once_per_invocation('graph_ancestors', node.unique_id, walk_graph_upward, [node])[0]) -}}
{%- endmacro %}

{% macro nearest_recording_upstream(node) -%}
    {{- return(once_per_invocation(
        'nearest_recording_upstream', node.unique_id, walk_graph_upward, [node, records_state]
    )[1]) -}}
{%- endmacro %}

{#
    The walk: (the unique ids it reached, the nodes it stopped at). It goes on through every parent that is a node of
    the graph (not a source) unless `stop_at(parent)` holds: models, and seeds, which have no parents (their
    depends_on names macros only).
#}
{% macro walk_graph_upward(node, stop_at=none) -%}
    {%- set walk = namespace(frontier=node.depends_on.nodes, seen=[], stopped=[]) -%}
    {#- Jinja has no while: 30 layers is deeper than any path from a source to a mart here. -#}
    {%- for _ in range(30) if walk.frontier -%}
        {%- set upstream = [] -%}
        {%- for uid in walk.frontier if uid not in walk.seen -%}
            {%- do walk.seen.append(uid) -%}
            {%- if uid in graph.nodes -%}
                {%- set parent = graph.nodes[uid] -%}
                {%- if stop_at is not none and stop_at(parent) -%}
                    {%- do walk.stopped.append(parent) -%}
                {%- else -%}
                    {%- do upstream.extend(parent.depends_on.get('nodes', [])) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set walk.frontier = upstream -%}
    {%- endfor -%}
    {{- return((walk.seen, walk.stopped)) -}}
{%- endmacro %}
