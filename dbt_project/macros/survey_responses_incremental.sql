{#
    fct_survey_responses rebuilds, on a daily run, only the responses something new touched, keyed by
    (survey_type, response_id) (macros/incremental_by_key.sql says how the batch ledger decides what is new).

    A row is one response with the customer and segment it belongs to. It follows from the response's record, the
    CRM company the survey names (its id makes the customer, its segment the fallback), the customer identity
    resolution gives the respondent's email, and the customer's segment (int_customers_acquired). A run
    recomputes the responses:
    - staged by this run (a new or re-exported record: an answer, a Spam flag that drops it);
    - naming a CRM company staged by this run, or belonging to one's customer (a company exported late makes the
      explicit id match; a re-exported one may change the segment);
    - whose respondent email identity resolution now matches differently (macros/row_changes.sql);
    - of customers whose int_customers_acquired row changed since (a segment, or a customer that starts or stops
      paying).
    Everything when a staging table it reads was re-staged whole since its last build (a staged batch the raw gate
    failed: records fall back to older copies, which no new row carries). The mart the last publish retired is this
    run's build schema (macros/reuse_retired_marts.sql), so its state is its own last build's.
#}

{# The surveys: type, staging model, and its response id column. #}
{% macro survey_response_sources() -%}
    {{- return([
        ('nps', 'stg_survey__nps_responses', 'response_id'),
        ('post_ticket', 'stg_survey__post_ticket_responses', 'response_id'),
        ('scorecard', 'stg_survey__scorecard_responses', 'submission_id'),
    ]) -}}
{%- endmacro %}

{# The touched responses, as (survey_type, response_id) rows. #}
{% macro survey_responses_touched(plan) -%}
    {%- set staged = staged_in(plan) -%}
    with

    staged_companies as (
        select company_id from {{ graph_model_relation('stg_crm__companies') }} where {{ staged }}
    ),

    rematched_respondents as (
        select changed.source_id as respondent_email
        from ({{ row_changes_since('int_customer_identity', plan.last_built_at) }}) as changed
        where changed.source_system = 'survey_respondent'
    )

    {% for survey_type, model_name, id in survey_response_sources() -%}
    select '{{ survey_type }}', {{ id }} from {{ graph_model_relation(model_name) }}
    where {{ staged }}
        or crm_company_id in (select company_id from staged_companies)
        or respondent_email in (select respondent_email from rematched_respondents)
    union all
    {% endfor -%}
    select survey_type, response_id from {{ this }}
    where customer_key in (
        select customer_key from ({{ row_changes_since('int_customers_acquired', plan.last_built_at) }}) as changed
        union all
        select 'crm:' || company_id from staged_companies
    )
{%- endmacro %}

{# The touched response ids by survey type; none outside an incremental run (everything is computed). #}
{% macro survey_responses_keys() -%}
    {%- set plan = staged_inputs_plan('fct_survey_responses') -%}
    {%- if not plan.incremental -%}{{ return(none) }}{%- endif -%}
    {%- set survey_types = [] -%}
    {%- for survey_type, _, _ in survey_response_sources() -%}{%- do survey_types.append(survey_type) -%}{%- endfor -%}
    {{- return(incremental_keys_by_kind(survey_responses_touched(plan), survey_types)) -}}
{%- endmacro %}

{# Pre-hook: the touched responses' rows (the body appends those still kept), or every row. #}
{% macro delete_survey_responses_recomputed() -%}
    {%- if is_incremental_run() -%}
        {%- set keys = survey_responses_keys() -%}
        delete from {{ this }}
        {%- if keys is not none %}
        where {{ is_key_of_kind_in(keys, 'survey_type', 'response_id') }}
        {%- endif %}
    {%- endif -%}
{%- endmacro %}

{# A response's key in the log below, from SQL expressions of its survey type and id (text). #}
{% macro survey_response_log_key(survey_type_sql, response_id_sql) -%}
    ({{ survey_type_sql }} || '/' || {{ response_id_sql }})
{%- endmacro %}

{#
    Pre-hook: the responses the run recomputes, as survey_response_log_key gives them, for int_customer_signals_monthly
    (macros/customer_signals_incremental.sql).
#}
{% macro log_survey_responses_recomputed() -%}
    {%- set keys = survey_responses_keys() if is_incremental_run() else none -%}
    {%- if keys is not none -%}
        {%- set rows = [] -%}
        {%- for survey_type, ids in keys.items() -%}
            {%- do rows.append('select ' ~ survey_response_log_key("'" ~ survey_type ~ "'", 'unnest(' ~ key_array(ids, 'text') ~ ')') ~ ', null::date') -%}
        {%- endfor -%}
        {{ log_recomputed_keys(rows | join(' union all ')) }}
    {%- else -%}
        {{ log_recomputed_keys(none) }}
    {%- endif -%}
{%- endmacro %}
