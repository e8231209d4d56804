{{
    config(
        materialized='incremental',
        unique_key=['response_id'],
        indexes=[{'columns': ['response_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('survey', 'post_ticket_responses') }}
),

renamed as (
    select
        {{ qualtrics_envelope() }}
        ticket_id,
        lower(trim(ticket_priority)) as ticket_priority,
        q1 as ces_score,
        q1 >= 5 as is_low_effort,
        q2 as csat_score,
        q2 >= 4 as is_satisfied,
        nullif(trim(q3), '') as comment,
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
    ticket_id,
    ticket_priority,
    ces_score,
    is_low_effort,
    csat_score,
    is_satisfied,
    comment,
    _batch_id as load_batch_id
from deduplicated
