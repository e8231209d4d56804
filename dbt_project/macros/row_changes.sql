{#
    When each row of a table rebuilt whole last changed (issue 15). int_customer_identity and
    int_customers_acquired are rebuilt every run; a model kept incrementally by another key (an input, a ticket)
    must recompute the rows that took something from a row of theirs that changed (a record identity resolution
    now matches differently, a customer's segment or channel), and nothing else tells which those are.

    Bookkeeping, beside the model: <schema>.<model>__changes, one row per key the model ever built, with a digest
    of the watched columns as built last (null once the key is gone) and changed_at, the start of the dbt
    invocation that built the change. Written by the model's post-hook (record_row_changes), in its transaction,
    by comparing the rebuilt table with the digests kept there, so a run that did not build the model misses
    nothing. A model that reads it runs after it and records its own start as built_at
    (macros/incremental_by_key.sql), so the changes it has not yet seen are those with changed_at after its last
    built_at (row_changes_since).
#}

{# Where a model's changes are kept. #}
{% macro row_changes_relation(model_name) -%}
    {{- graph_model_relation(model_name, '__changes') -}}
{%- endmacro %}

{# Post-hook of a table model: which of its keys (`key_columns`) got other values in `value_columns`. #}
{% macro record_row_changes(key_columns, value_columns) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set changes = row_changes_relation(this.identifier) -%}
    -- made once; two builds of the model never run at once (dbt runs a node once per invocation)
    create table if not exists {{ changes }} (
        {%- for key in key_columns %}
        {{ key }} text not null,
        {%- endfor %}
        value_digest text,
        changed_at timestamptz not null,
        primary key ({{ key_columns | join(', ') }})
    );
    insert into {{ changes }} as seen ({{ key_columns | join(', ') }}, value_digest, changed_at)
    select
        {%- for key in key_columns %}
        coalesce(built.{{ key }}, seen.{{ key }}),
        {%- endfor %}
        built.value_digest,
        '{{ run_started_at }}'::timestamptz
    from (
        select
            {%- for key in key_columns %}
            {{ key }}::text as {{ key }},
            {%- endfor %}
            md5(row({{ value_columns | join(', ') }})::text) as value_digest
        from {{ this }}
    ) as built
    full join {{ changes }} as seen
        on {% for key in key_columns %}built.{{ key }} = seen.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
    where seen.{{ key_columns[0] }} is null or built.value_digest is distinct from seen.value_digest
    on conflict ({{ key_columns | join(', ') }}) do update set
        value_digest = excluded.value_digest,
        changed_at = excluded.changed_at
{%- endmacro %}

{# The keys of `model_name` whose watched values changed after `since` (a timestamptz text), as a query. #}
{% macro row_changes_since(model_name, since) -%}
    select * from {{ row_changes_relation(model_name) }}
    where changed_at > '{{ since }}'::timestamptz
{%- endmacro %}
