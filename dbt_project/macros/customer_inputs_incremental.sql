{#
    int_customer_inputs_collected, int_customer_inputs_classified and fct_product_input rebuild, on a daily run,
    only the inputs something new touched, keyed by (input_source, source_id) (macros/incremental_by_key.sql says
    how the batch ledger decides what is new).

    An input is touched by a new or re-exported record of its own (ticket, satisfaction rating, survey response,
    deal note), staged by this run; a rating comment also by a new record of its ticket (a deleted ticket's
    rating leaves); a survey answer or deal note by a new record of the CRM company it names (a company exported
    late makes the explicit id match); and any input by a change of the customer identity resolution gives the
    help-desk organization, user or survey respondent it comes from (macros/row_changes.sql). Nothing else
    enters an input's row: classification reads the input and the rules seed, whose checksum is part of the
    model's fingerprint. fct_product_input adds who gave the input (product_input_changed_customers).

    Everything is recomputed when a staging table they read was re-staged whole since the model's last run (a
    staged batch the raw gate failed: records fall back to older copies, which no new row carries).
#}

{# Each input source and the type of its ids in staging. #}
{% macro customer_input_sources() -%}
    {{- return({
        'support_ticket': 'bigint',
        'support_rating_comment': 'bigint',
        'nps_comment': 'text',
        'post_ticket_comment': 'text',
        'scorecard_hated_thing': 'text',
        'deal_blocker_note': 'bigint',
    }) -}}
{%- endmacro %}

{# The three models' plan: the staging tables are those int_customer_inputs_collected reads. #}
{% macro customer_inputs_plan() -%}
    {{- return(staged_inputs_plan('int_customer_inputs_collected')) -}}
{%- endmacro %}

{# The touched inputs, as (input_source, source_id) rows. #}
{% macro customer_inputs_touched(plan) -%}
    {%- set staged = staged_in(plan) -%}
    {%- set since = plan.last_built_at -%}
    with

    staged_tickets as (
        select ticket_id from {{ graph_model_relation('stg_support__tickets') }} where {{ staged }}
    ),

    staged_companies as (
        select company_id from {{ graph_model_relation('stg_crm__companies') }} where {{ staged }}
    ),

    -- read once: the table holds every identity record
    changed_identities as (
        {{ row_changes_since('int_customer_identity', since) }}
    )

    select 'support_ticket', ticket_id::text from {{ graph_model_relation('stg_support__tickets') }}
    where {{ staged }}
        or organization_id::text in (
            select source_id from changed_identities where source_system = 'support_organization'
        )
        or requester_id::text in (
            select source_id from changed_identities where source_system = 'support_user'
        )
    union all
    select 'support_rating_comment', satisfaction_rating_id::text
    from {{ graph_model_relation('stg_support__satisfaction_ratings') }}
    where {{ staged }}
        or ticket_id in (select ticket_id from staged_tickets)
        or requester_id::text in (
            select source_id from changed_identities where source_system = 'support_user'
        )
    {%- for source, model, id in [
        ('nps_comment', 'stg_survey__nps_responses', 'response_id'),
        ('post_ticket_comment', 'stg_survey__post_ticket_responses', 'response_id'),
        ('scorecard_hated_thing', 'stg_survey__scorecard_responses', 'submission_id'),
    ] %}
    union all
    select '{{ source }}', {{ id }} from {{ graph_model_relation(model) }}
    where {{ staged }}
        or crm_company_id in (select company_id from staged_companies)
        or respondent_email in (
            select source_id from changed_identities where source_system = 'survey_respondent'
        )
    {%- endfor %}
    union all
    select 'deal_blocker_note', note_id::text from {{ graph_model_relation('stg_crm__deal_notes') }}
    where {{ staged }} or company_id in (select company_id from staged_companies)
{%- endmacro %}

{#
    The touched inputs' ids (as text) by input source; none outside an incremental run (everything is computed).
    `with_customers`: also the inputs whose customer's facts changed (fct_product_input).
#}
{% macro customer_inputs_keys(with_customers=false) -%}
    {%- set plan = customer_inputs_plan() -%}
    {%- if not plan.incremental -%}{{ return(none) }}{%- endif -%}
    {%- set touched = customer_inputs_touched(plan) -%}
    {%- if with_customers -%}
        {%- set touched = touched ~ '\nunion all\n(' ~ product_input_changed_customers(plan) ~ ')' -%}
    {%- endif -%}
    {{- return(incremental_keys_by_kind(touched, customer_input_sources().keys() | list)) -}}
{%- endmacro %}

{# The touched ids of one source, as an array literal of its staging id type. #}
{% macro customer_input_ids(keys, source) -%}
    {{- key_array(keys[source], customer_input_sources()[source]) -}}
{%- endmacro %}

{#
    Pre-hook: the rows the run replaces: the touched inputs' (the body computes those that still qualify), or every
    row when the model recomputes everything in place (new code or settings, a re-staged table).
#}
{% macro delete_customer_inputs_recomputed(with_customers=false) -%}
    {%- if is_incremental_run() -%}
        {%- set keys = customer_inputs_keys(with_customers) -%}
        delete from {{ this }}
        {%- if keys is not none %}
        where {{ is_key_of_kind_in(keys, 'input_source', 'source_id') }}
        {%- endif %}
    {%- endif -%}
{%- endmacro %}

{#
    The inputs in fct_product_input whose customer's segment, acquisition channel or paying status may have changed
    since its last build: whole-customer facts (int_customers_acquired, the CRM company) that change with no record
    of the input. A customer's, as int_customers_acquired's post-hook records them (macros/row_changes.sql; a
    customer that starts or stops paying gains or loses its row there); a prospect's, by a new record of its CRM
    company. The mart the last publish retired is this run's build schema (macros/reuse_retired_marts.sql), so its
    rows are two runs old and the plan looks at both runs' changes.
#}
{% macro product_input_changed_customers(plan) -%}
    select input_source, source_id from {{ this }}
    where customer_key in (
        select customer_key from ({{ row_changes_since('int_customers_acquired', plan.last_built_at) }}) as changed
        union all
        select 'crm:' || company_id from {{ graph_model_relation('stg_crm__companies') }}
        where {{ staged_in(plan) }}
    )
{%- endmacro %}
