{#
    When each row of a table last changed (issue 15). A model kept incrementally by another key (an input, a
    ticket, a record) must recompute the rows that took something from a row of another model that changed (a
    record identity resolution now matches differently, a customer's segment or channel, the company an email or
    domain identifies), and nothing else tells which those are: int_customer_identity, int_customers_acquired,
    int_contact_emails and int_company_domains record theirs.

    Bookkeeping, beside the model: <schema>.<model>__changes, one row per key the model ever built, with the
    watched columns' values as built last (jsonb; null once the key is gone) and changed_at, the start of the dbt
    invocation that built the change; and <schema>.<model>__replaced, one row per change of a key that had values,
    with the values it replaced, for a model that must also find the rows built from the old values (the customer
    a billing record belonged to before). Written by the model's post-hook (record_row_changes), in its
    transaction, by comparing the table (a model kept by key: the keys its run recomputed) with the values kept
    there, so a run that did not build the model misses nothing. A model that reads them runs after it and records
    its own start as built_at (macros/incremental_by_key.sql), so the changes it has not yet seen are those after
    its last built_at (row_changes_since, row_values_replaced_since).
#}

{# Where a model's changes are kept. #}
{% macro row_changes_relation(model_name) -%}
    {{- graph_model_relation(model_name, '__changes') -}}
{%- endmacro %}

{# Where the values a change replaced are kept. #}
{% macro row_values_replaced_relation(model_name) -%}
    {{- graph_model_relation(model_name, '__replaced') -}}
{%- endmacro %}

{#
    Post-hook of a model: which of its keys (`key_columns`) got other values in `value_columns`. `scope`: a
    condition on the key columns (as text) that every key the run may have changed meets, for a model kept
    incrementally, whose other rows are as its last build left them (keys_scope); none compares every row. Such a
    model lists this hook before record_incremental_state's: on a first build its plan, which the scope reads, must
    still find no state, so that every row is compared.
#}
{% macro record_row_changes(key_columns, value_columns, scope=none) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set changes = row_changes_relation(this.identifier) -%}
    {%- set replaced = row_values_replaced_relation(this.identifier) -%}
    {%- set keys = key_columns | join(', ') -%}
    -- a record made before it kept the values (a digest only) is made again: every key counts as new once
    do $$ begin
        if exists (
            select from information_schema.columns
            where table_schema = '{{ this.schema }}' and table_name = '{{ this.identifier }}__changes'
                and column_name = 'value_digest'
        ) then
            drop table {{ changes }};
        end if;
    end $$;
    -- made once; two builds of the model never run at once (dbt runs a node once per invocation)
    create table if not exists {{ changes }} (
        {%- for key in key_columns %}
        {{ key }} text not null,
        {%- endfor %}
        watched jsonb,
        changed_at timestamptz not null,
        primary key ({{ keys }})
    );
    create table if not exists {{ replaced }} (
        {%- for key in key_columns %}
        {{ key }} text not null,
        {%- endfor %}
        watched jsonb not null,
        replaced_at timestamptz not null
    );
    with

    built as (
        select
            {%- for key in key_columns %}
            {{ key }}::text as {{ key }},
            {%- endfor %}
            jsonb_build_object(
                {%- for column in value_columns %}
                '{{ column }}', {{ column }}{{ ',' if not loop.last }}
                {%- endfor %}
            ) as watched
        from {{ this }}
        {%- if scope is not none %}
        where {{ scope }}
        {%- endif %}
    ),

    seen as (
        select * from {{ changes }}
        {%- if scope is not none %}
        where {{ scope }}
        {%- endif %}
    ),

    changed as (
        select
            {%- for key in key_columns %}
            coalesce(built.{{ key }}, seen.{{ key }}) as {{ key }},
            {%- endfor %}
            built.watched,
            seen.watched as replaced_watched
        from built
        full join seen
            on {% for key in key_columns %}built.{{ key }} = seen.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
        where seen.{{ key_columns[0] }} is null or built.watched is distinct from seen.watched
    ),

    kept_replaced as (
        insert into {{ replaced }} ({{ keys }}, watched, replaced_at)
        select {{ keys }}, replaced_watched, '{{ run_started_at }}'::timestamptz
        from changed
        where replaced_watched is not null
    )

    insert into {{ changes }} ({{ keys }}, watched, changed_at)
    select {{ keys }}, watched, '{{ run_started_at }}'::timestamptz
    from changed
    on conflict ({{ keys }}) do update set
        watched = excluded.watched,
        changed_at = excluded.changed_at
{%- endmacro %}

{#
    record_row_changes' scope for a model kept by one key column: its rows of `keys` (an array literal,
    incremental_keys'), or none (every row) when the run recomputes everything.
#}
{% macro keys_scope(key_column, keys) -%}
    {{- return(none if keys is none else key_column ~ ' = any(' ~ keys ~ ')') -}}
{%- endmacro %}

{#
    Post-hook of a model kept by key whose rows name what they were built from (an array column: contacts,
    companies, responses): a GIN index on it, so that a run's plan finds the rows naming a staged record with `&&`
    through the index. Without one, `&&` compares every element with every staged id, row by row: quadratic on a
    day that re-exports everything. Made here rather than in the `indexes` config, which dbt applies only to a new
    table.
#}
{% macro gin_index_if_missing(column) -%}
    create index if not exists {{ adapter.quote(this.identifier ~ '__' ~ column ~ '_gin') }}
    on {{ this }} using gin ({{ column }})
{%- endmacro %}

{#
    The keys a model kept by key recomputes when its rows name what they were built from (`array_column`, indexed by
    gin_index_if_missing): the keys of the staged records now (`keys_now_sql`, a query over `staged`), and the keys
    of the rows that name one of them (`id_column` of `staged_sql`), those they had before. A text[] literal.
#}
{% macro keys_now_and_before(staged_sql, keys_now_sql, key_column, array_column, id_column) -%}
    {%- set touched -%}
        with staged as ({{ staged_sql }})
        {{ keys_now_sql }}
        union all
        select {{ key_column }} from {{ this }} where {{ array_column }} && array(select {{ id_column }} from staged)
    {%- endset -%}
    {{- return(incremental_keys(touched, 'text')) -}}
{%- endmacro %}

{#
    The keys of `model_name` whose watched values changed after `since` (a timestamptz text), with the values they
    have now (`watched`, jsonb; null once the key is gone), as a query.
#}
{% macro row_changes_since(model_name, since) -%}
    select * from {{ row_changes_relation(model_name) }}
    where changed_at > '{{ since }}'::timestamptz
{%- endmacro %}

{#
    The values changes after `since` replaced (`watched`, jsonb), one row per change, as a query. A key changed
    twice since gives both values it had: the first is the one a model built at `since` took.
#}
{% macro row_values_replaced_since(model_name, since) -%}
    select * from {{ row_values_replaced_relation(model_name) }}
    where replaced_at > '{{ since }}'::timestamptz
{%- endmacro %}
