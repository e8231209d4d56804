{#
    Pre-hook of every model: the memory each sort and hash table of the model's query may take before it spills to
    disk (PostgreSQL's work_mem), in the model's own transaction only (set local), on any server. PostgreSQL's
    default, 4MB, sends the de-duplicating sort of every staging table of any size to disk: at 100,000 customers
    building stg_support__ticket_field_history (2.8 million rows) took 6.3 s with 4MB and 4.1 s with 32MB or 64MB.
    A query holds a few such nodes per process, and dbt runs two models at once: some hundreds of MB at worst.
    Var query_work_mem sets it ('4MB' gives the server's default back).
#}
{% macro query_memory() -%}
    set local work_mem = '{{ var("query_work_mem", "32MB") }}'
{%- endmacro %}
