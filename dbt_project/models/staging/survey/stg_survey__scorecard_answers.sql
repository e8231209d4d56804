{{
    config(
        materialized='incremental',
        unique_key=['submission_id'],
        pre_hook="{{ delete_restaged_records('submission_id', 'trim(token)', 'survey', 'scorecard_responses') }}",
        post_hook="{{ index_if_missing('submission_id', 'by_submission') }}",
    )
}}
{#
    Kept incrementally by submission (macros/staging_incremental.sql): a submission delivered again replaces all
    its answers, and one whose newest copy has none loses them (the pre-hook; its key, trim(token), is the one
    `submissions` below computes). The index on submission_id serves both deletes; a post-hook, not `indexes`,
    so that a table staged whole before this model was incremental gets it too.
#}
with

source as (
    select * from {{ restaged_source('survey', 'scorecard_responses') }}
),

submissions as (
    select
        trim(token) as submission_id,
        submitted_at at time zone 'UTC' as submitted_at,
        lower(trim(hidden_email)) as respondent_email,
        hidden_company_id as crm_company_id,
        case when jsonb_typeof(answers) = 'array' then answers else '[]'::jsonb end as answers,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('submissions', ['submission_id']) }}
),

answers as (
    select
        deduplicated.submission_id,
        deduplicated.submitted_at,
        deduplicated.respondent_email,
        deduplicated.crm_company_id,
        answer.position::integer as answer_position,
        answer.value #>> '{field,ref}' as question_ref,
        answer.value #>> '{field,id}' as field_id,
        answer.value #>> '{field,type}' as field_type,
        answer.value ->> 'type' as answer_type,
        case when answer.value ->> 'type' = 'number' then (answer.value ->> 'number')::integer end as score,
        case when answer.value ->> 'type' = 'text' then nullif(trim(answer.value ->> 'text'), '') end as answer_text,
        deduplicated._batch_id
    from deduplicated
    cross join lateral jsonb_array_elements(deduplicated.answers) with ordinality as answer (value, position)
)

select
    {{ surrogate_key(['submission_id', 'question_ref']) }} as answer_id,
    submission_id,
    submitted_at,
    respondent_email,
    crm_company_id,
    answer_position,
    question_ref,
    field_id,
    field_type,
    answer_type,
    score,
    answer_text,
    _batch_id as load_batch_id
from answers
