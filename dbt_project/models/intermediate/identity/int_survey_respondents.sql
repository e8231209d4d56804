{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        indexes=[{'columns': ['respondent_email'], 'unique': True}],
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_keys_recomputed('respondent_email', survey_respondents_keys()) }}",
        post_hook=[
            "{{ gin_index_if_missing('response_keys') }}",
            "{{ record_survey_respondents_changes() }}",
            "{{ record_incremental_state() }}",
        ],
    )
}}
{#
    One row per survey respondent (an email that answered an NPS, post-ticket or scorecard survey), with the CRM
    company its responses name (the lowest id, when they name several) and its responses. int_customer_identity
    matches respondents from it; the post-hook notes which respondents came, left or name another company
    (macros/row_changes.sql), so that identity recomputes only those: a response exported again with another
    email, or none, leaves its old respondent, whom no staging row names any more.

    Incremental (macros/survey_respondents_incremental.sql): a daily run recomputes the respondents of the
    responses it stages, now and before (response_keys names them), and keeps the others.
#}
{%- set emails = survey_respondents_keys() %}
with

responses as (
    select 'nps:' || response_id as response_key, respondent_email, crm_company_id
    from {{ ref('stg_survey__nps_responses') }}
    union all
    select 'post_ticket:' || response_id as response_key, respondent_email, crm_company_id
    from {{ ref('stg_survey__post_ticket_responses') }}
    union all
    select 'scorecard:' || submission_id as response_key, respondent_email, crm_company_id
    from {{ ref('stg_survey__scorecard_responses') }}
),

recomputed as (
    select response_key, respondent_email, crm_company_id from responses
    {%- if emails is not none %}
    where respondent_email = any({{ emails }})
    {%- endif %}
)

select
    respondent_email,
    min(crm_company_id) as claimed_company_id,
    array_agg(response_key order by response_key) as response_keys
from recomputed
where respondent_email is not null
group by respondent_email
