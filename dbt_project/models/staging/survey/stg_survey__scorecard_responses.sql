{{
    config(
        materialized='incremental',
        unique_key=['submission_id'],
        indexes=[{'columns': ['submission_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('survey', 'scorecard_responses') }}
),

renamed as (
    select
        trim(token) as submission_id,
        landed_at at time zone 'UTC' as landed_at,
        submitted_at at time zone 'UTC' as submitted_at,
        lower(trim(hidden_email)) as respondent_email,
        hidden_company_id as crm_company_id,
        lower(trim(platform)) as platform,
        case when jsonb_typeof(answers) = 'array' then answers else '[]'::jsonb end as answers,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['submission_id']) }}
)

select
    submission_id,
    landed_at,
    submitted_at,
    respondent_email,
    crm_company_id,
    platform,
    jsonb_array_length(answers) as answer_count,
    {%- for category in ['product', 'support', 'reliability', 'pricing', 'onboarding'] %}
        cast(jsonb_path_query_first(answers, '$[*] ? (@.field.ref == "{{ category }}").number') as integer)
            as {{ category }}_score,
    {%- endfor %}
    jsonb_path_query_first(answers, '$[*] ? (@.field.ref == "hated_thing").text') #>> '{}' as hated_thing_text,
    _batch_id as load_batch_id
from deduplicated
