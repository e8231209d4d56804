{#
    When each identity record last got another customer (issue 15). int_customer_identity is rebuilt whole every
    run; a model kept incrementally by another key (an input, a ticket) must recompute the rows whose customer
    came from a record identity resolution now matches differently, and nothing else tells which those are.

    Bookkeeping, beside the model: <schema>.customer_identity_changes, one row per identity record ever built,
    with the customer it has now (null when unmatched or gone) and changed_at, the start of the dbt invocation
    that built the change. Written by int_customer_identity's post-hook, in its transaction, by comparing the
    rebuilt table with the rows kept here, so a run that did not build the model misses nothing. A model that
    reads int_customer_identity runs after it and records its own start as built_at
    (macros/incremental_by_key.sql), so the changes it has not yet seen are those with changed_at after its
    last built_at.
#}

{# Where the changes are kept, looked up in dbt's graph (macros/incremental_by_key.sql, raw_relation). #}
{% macro identity_changes_relation() -%}
    {%- if not execute -%}{{- return('customer_identity_changes') -}}{%- endif -%}
    {{ adapter.quote(graph.nodes['model.' ~ project_name ~ '.int_customer_identity'].schema) }}.customer_identity_changes
{%- endmacro %}

{# Post-hook of int_customer_identity. #}
{% macro record_identity_changes() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set changes = identity_changes_relation() -%}
    -- made once; two builds of the model never run at once (dbt runs a node once per invocation)
    create table if not exists {{ changes }} (
        source_system text not null,
        source_id     text not null,
        customer_key  text,
        changed_at    timestamptz not null,
        primary key (source_system, source_id)
    );
    insert into {{ changes }} as seen (source_system, source_id, customer_key, changed_at)
    select
        coalesce(built.source_system, seen.source_system),
        coalesce(built.source_id, seen.source_id),
        built.customer_key,
        '{{ run_started_at }}'::timestamptz
    from {{ this }} as built
    full join {{ changes }} as seen
        on built.source_system = seen.source_system and built.source_id = seen.source_id
    where seen.source_id is null or built.customer_key is distinct from seen.customer_key
    on conflict (source_system, source_id) do update set
        customer_key = excluded.customer_key,
        changed_at = excluded.changed_at
{%- endmacro %}

{# The identity records whose customer changed after `since` (a timestamptz text), as a query. #}
{% macro identity_changes_since(since) -%}
    select source_system, source_id from {{ identity_changes_relation() }}
    where changed_at > '{{ since }}'::timestamptz
{%- endmacro %}
