{{
    config(
        materialized='incremental',
        unique_key=['response_id'],
        indexes=[{'columns': ['response_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('survey', 'nps_responses') }}
),

renamed as (
    select
        {{ qualtrics_envelope() }}
        q1 as nps_score,
        case
            when q1 >= 9 then 'promoter'
            when q1 >= 7 then 'passive'
            when q1 >= 0 then 'detractor'
        end as nps_category,
        nullif(trim(q2), '') as score_reason,
        lower(trim(account_tier)) as account_tier,
        upper(trim(survey_wave)) as survey_wave,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['response_id']) }}
)

select
    response_id,
    started_at,
    submitted_at,
    recorded_at,
    response_type,
    is_finished,
    progress_percent,
    respondent_first_name,
    respondent_last_name,
    respondent_email,
    crm_company_id,
    distribution_channel,
    language_code,
    nps_score,
    nps_category,
    score_reason,
    account_tier,
    survey_wave,
    _batch_id as load_batch_id
from deduplicated
