{#
    Staging tables kept incrementally (macros/incremental_by_key.sql has the plan and its state): a daily run
    re-stages only the records that a batch of the run names, from every audited copy of them, and keeps the
    other rows. Staging holds the newest audited copy of each record (dedupe_latest), so a record that no batch
    of the run names cannot have changed. The run's batches are the new ones and those the raw gate failed since
    the last run, whose records fall back to their previous copy or leave staging.

    A model using it, keyed by a column it copies unchanged from the raw table (`raw_key`, staged as `key`):
        config: materialized='incremental', incremental_strategy='append', indexes on `key`,
                pre_hook="{{ delete_restaged('key', 'source', 'table', 'raw_key') }}",
                post_hook="{{ record_incremental_state() }}"
        source: select * from {{ restaged_source('source', 'table', 'raw_key') }}
    `key` may be coarser than the model's unique key (a ticket for its comments): all of a key's rows are
    re-staged together. Outside an incremental run (first build, --full-refresh, new code) the model stages
    everything and the pre-hook empties the table first.
#}

{% macro restaged_keys_sql(plan, source_name, table_name, raw_key) -%}
    select {{ raw_key }} from {{ raw_relation(source_name, table_name) }}
    where _batch_id in ({{ incremental_batches_sql(plan) }})
{%- endmacro %}

{# audited_source, limited in an incremental run to the records a batch of the run names. #}
{% macro restaged_source(source_name, table_name, raw_key) -%}
    {%- set plan = incremental_plan() -%}
    {%- if plan.incremental -%}
        (
            select * from {{ audited_source(source_name, table_name) }}
            where {{ raw_key }} in ({{ restaged_keys_sql(plan, source_name, table_name, raw_key) }})
        ) as restaged_rows
    {%- else -%}
        {{ audited_source(source_name, table_name) }}
    {%- endif -%}
{%- endmacro %}

{# Pre-hook: the rows this run re-stages (all of them when it stages everything). #}
{% macro delete_restaged(key, source_name, table_name, raw_key) -%}
    {%- if execute and this is not none and is_incremental() -%}
        {%- set plan = incremental_plan() -%}
        delete from {{ this }}
        {%- if plan.incremental %}
        where {{ key }} in ({{ restaged_keys_sql(plan, source_name, table_name, raw_key) }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
