{#
    Staging tables kept incrementally (the plan and its state: macros/incremental_by_key.sql). Staging holds the
    newest audited copy of each record (dedupe_latest: the highest batch, then the last line). Every batch of a
    daily run is newer than every batch staged before it, so a record the run's audited rows carry has its newest
    copy among them, and a record they do not carry keeps its staged row. A run therefore de-duplicates only the
    rows of its own batches and replaces, by the model's unique key, the records they carry (dbt's
    delete+insert); it never reads the rest of the raw table.

    One event breaks that reasoning: the raw gate failing a batch that is already staged (its records must fall
    back to an older copy, or leave staging). A run that finds one re-stages the whole table; so does a change of
    the model's code, and the first build. A batch the gate fails before any build staged it needs nothing: its
    rows never pass audited_source, and its records keep their staged rows.

    A model using it (its raw tables are its sources in dbt's graph, the ledger aside):
        config: materialized='incremental', unique_key the de-duplication key (or a coarser one: every row of a
                key the run carries is replaced), an index on it; dbt_project.yml gives every staging model the
                strategy (delete+insert) and the hooks (restage_everything_first, record_incremental_state)
        source: select * from {{ restaged_source('source', 'table') }}
    It must not drop a key's rows after de-duplication (a filter or an empty expansion there would leave the
    key's older rows in place); a row-level filter before it is fine. A model that expands a record into rows
    (answers unnested from a submission) and may expand its newest copy into none deletes the run's records first
    (pre-hook delete_restaged_records): a key with no new row is one delete+insert leaves alone.
#}

{# The raw tables this model stages, by their identifiers (raw.<source>_<entity>, as in the batch ledger). #}
{% macro restaged_raw_tables() -%}
    {%- set tables = [] -%}
    {%- for node_id in model.depends_on.nodes if node_id.startswith('source.') -%}
        {%- set found = graph.sources[node_id] -%}
        {%- if found.source_name != 'ledger' -%}{%- do tables.append(found.identifier) -%}{%- endif -%}
    {%- endfor -%}
    {{- return(tables) -}}
{%- endmacro %}

{% macro restage_plan() -%}
    {%- if not is_incremental_run() -%}
        {{- return(incremental_plan()) -}}
    {%- endif -%}
    {%- set tables = restaged_raw_tables() -%}
    {{- return(incremental_plan(recompute_everything_if=[
        "exists (
            select from " ~ raw_relation('ledger', 'load_batches') ~ " as failed
            where failed.batch_id in (select batch_id from incremental_batches)
                and failed.validation = 'failed'
                and failed.batch_id <= (
                    select through_batch_id from " ~ incremental_state_relation() ~ "
                    where model = '" ~ this.identifier ~ "'
                )
                and failed.source || '_' || failed.entity in ('" ~ tables | join("', '") ~ "')
        )",
    ], recompute_reason='a staged batch failed the raw gate')) -}}
{%- endmacro %}

{# audited_source, limited in an incremental run to the rows of the run's batches. #}
{% macro restaged_source(source_name, table_name) -%}
    {%- set plan = restage_plan() -%}
    {%- if plan.incremental -%}
        (
            select * from {{ audited_source(source_name, table_name) }}
            where {{ in_batches('_batch_id', incremental_batches_sql(plan)) }}
        ) as audited_rows
    {%- else -%}
        {{ audited_source(source_name, table_name) }}
    {%- endif -%}
{%- endmacro %}

{# Pre-hook: a run that re-stages everything starts from an empty table (delete+insert keeps unnamed keys). #}
{% macro restage_everything_first() -%}
    {%- if is_incremental_run() and not restage_plan().incremental -%}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}

{#
    Pre-hook of a staging model that expands each record into rows: deletes, in an incremental run, every row of
    the records the run's audited rows carry (`key_column` in the table, `key_sql` the same key over the raw rows).
    delete+insert replaces only the keys the new rows have, so without it a newest copy that expands into no row
    would leave the older copy's rows in place.
#}
{% macro delete_restaged_records(key_column, key_sql, source_name, table_name) -%}
    {%- if is_incremental_run() and restage_plan().incremental -%}
        delete from {{ this }}
        where {{ key_column }} in (select {{ key_sql }} from {{ restaged_source(source_name, table_name) }})
    {%- endif -%}
{%- endmacro %}
