{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=["{{ log_survey_responses_recomputed() }}", "{{ delete_survey_responses_recomputed() }}"],
        post_hook="{{ record_incremental_state() }}",
    )
}}
{#
    Every survey response, from the three surveys, in one shape. A response is kept whatever it answered: a
    skipped question is null (never a zero) and is_answered says whether the survey's main question got an
    answer, so response counts and score averages can each use the right base.

    Scores are re-derived here from the raw answers (not taken from staging's categories), so a missing score
    gives a null category rather than a detractor. Qualtrics test runs (Survey Preview) and responses
    flagged Spam are not responses from customers and are left out.

    Incremental (macros/survey_responses_incremental.sql): a daily run recomputes the responses something new
    touched - their own records, the CRM company they name, their respondent's identity, their customer's
    segment - and keeps the others. The pre-hook deletes their rows; the body appends those still kept.

    Length (189 lines, over the style's ~150): One model: three surveys in one shape are three branches of one
    union, each a few lines per column.
#}
{%- set keys = survey_responses_keys() %}
with

companies as (
    select company_id, segment from {{ ref('stg_crm__companies') }}
),

customers as (
    select customer_key, segment from {{ ref('int_customers_acquired') }}
),

respondents as (
    select source_id as respondent_email, customer_key
    from {{ ref('int_customer_identity') }}
    where source_system = 'survey_respondent' and customer_key is not null
),

nps as (
    select
        'nps' as survey_type,
        response_id,
        submitted_at,
        crm_company_id,
        respondent_email,
        account_tier,
        nps_score,
        null::integer as csat_score,
        null::integer as ces_score,
        null::bigint as ticket_id,
        null::numeric as scorecard_average,
        score_reason as comment_text
    from {{ ref('stg_survey__nps_responses') }}
    where (response_type is null or response_type not in ('Survey Preview', 'Spam'))
    {%- if keys is not none %}
        and response_id = any({{ key_array(keys['nps'], 'text') }})
    {%- endif %}
),

post_ticket as (
    select
        'post_ticket' as survey_type,
        response_id,
        submitted_at,
        crm_company_id,
        respondent_email,
        null::text as account_tier,
        null::integer as nps_score,
        csat_score,
        ces_score,
        ticket_id::bigint as ticket_id,
        null::numeric as scorecard_average,
        comment as comment_text
    from {{ ref('stg_survey__post_ticket_responses') }}
    where (response_type is null or response_type not in ('Survey Preview', 'Spam'))
    {%- if keys is not none %}
        and response_id = any({{ key_array(keys['post_ticket'], 'text') }})
    {%- endif %}
),

scorecard as (
    select
        'scorecard' as survey_type,
        submission_id as response_id,
        submitted_at,
        crm_company_id,
        respondent_email,
        null::text as account_tier,
        null::integer as nps_score,
        null::integer as csat_score,
        null::integer as ces_score,
        null::bigint as ticket_id,
        -- mean of the category ratings answered (1-10); null when none was answered
        (
            select avg(score)
            from unnest(array[product_score, support_score, reliability_score, pricing_score, onboarding_score])
                as category (score)
        ) as scorecard_average,
        hated_thing_text as comment_text
    from {{ ref('stg_survey__scorecard_responses') }}
    {%- if keys is not none %}
    where submission_id = any({{ key_array(keys['scorecard'], 'text') }})
    {%- endif %}
),

responses as (
    select * from nps
    union all
    select * from post_ticket
    union all
    select * from scorecard
),

keyed as (
    select
        responses.*,
        coalesce('crm:' || companies.company_id, respondents.customer_key) as customer_key
    from responses
    left join companies
        on responses.crm_company_id = companies.company_id
    left join respondents
        on responses.respondent_email = respondents.respondent_email
),

final as (
    select
        keyed.survey_type,
        keyed.response_id,
        keyed.submitted_at,
        {{ local_month('keyed.submitted_at') }} as month,
        keyed.customer_key,
        coalesce(customers.segment, companies.segment, keyed.account_tier, 'unknown') as segment,
        keyed.respondent_email,
        keyed.ticket_id,
        keyed.nps_score,
        case
            when keyed.nps_score >= 9 then 'promoter'
            when keyed.nps_score >= 7 then 'passive'
            when keyed.nps_score >= 0 then 'detractor'
        end as nps_category,
        keyed.csat_score,
        keyed.csat_score >= 4 as is_satisfied,
        keyed.ces_score,
        keyed.ces_score >= 5 as is_easy,
        round(keyed.scorecard_average, 2)::numeric(4, 2) as scorecard_average,
        keyed.comment_text,
        keyed.nps_score is not null as is_nps_answered,
        keyed.csat_score is not null as is_csat_answered,
        keyed.ces_score is not null as is_ces_answered,
        case keyed.survey_type
            when 'nps' then keyed.nps_score is not null
            when 'post_ticket' then keyed.csat_score is not null or keyed.ces_score is not null
            when 'scorecard' then keyed.scorecard_average is not null or keyed.comment_text is not null
        end as is_answered
    from keyed
    left join customers
        on keyed.customer_key = customers.customer_key
    left join companies
        on keyed.customer_key = 'crm:' || companies.company_id
)

select
    survey_type,
    response_id,
    submitted_at,
    month,
    customer_key,
    segment,
    respondent_email,
    ticket_id,
    nps_score,
    nps_category,
    csat_score,
    is_satisfied,
    ces_score,
    is_easy,
    scorecard_average,
    comment_text,
    is_nps_answered,
    is_csat_answered,
    is_ces_answered,
    is_answered
from final
