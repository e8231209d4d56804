{#
    `compute(*arguments)`, computed once per dbt invocation for each `key` of `memo` and kept in dbt's graph, the
    one object every render of an invocation shares; the next invocation starts without it. dbt renders a model's
    plan, body and hooks one by one, and each asks the same things: a query's answer (run_query_once), a walk of the
    graph (graph_ancestors, nearest_recording_upstream), a text rendered from both (rendered_once). Only for answers
    that cannot change during the invocation. Nothing is kept outside execution: a parse has no graph to keep it.
#}
{% macro once_per_invocation(memo, key, compute, arguments=[]) -%}
    {%- if not execute -%}{{- return(compute(*arguments)) -}}{%- endif -%}
    {%- set known = graph.setdefault('tealeaves_' ~ memo, {}) -%}
    {%- if key not in known -%}{%- do known.update({key: compute(*arguments)}) -%}{%- endif -%}
    {{- return(known[key]) -}}
{%- endmacro %}
