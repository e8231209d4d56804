with

source as (
    select * from {{ source('survey', 'nps_responses') }}
),

renamed as (
    select
        trim(responseid) as response_id,
        -- Qualtrics writes local time in the zone its ImportId row names; our exports say timeZone Z (UTC).
        cast(startdate as timestamp) as started_at,
        cast(enddate as timestamp) as submitted_at,
        cast(recordeddate as timestamp) as recorded_at,
        status as response_type,
        finished as is_finished,
        progress as progress_percent,
        nullif(trim(recipientfirstname), '') as respondent_first_name,
        nullif(trim(recipientlastname), '') as respondent_last_name,
        lower(trim(recipientemail)) as respondent_email,
        externalreference as crm_company_id,
        lower(trim(distributionchannel)) as distribution_channel,
        upper(trim(userlanguage)) as language_code,
        q1 as nps_score,
        case
            when q1 >= 9 then 'promoter'
            when q1 >= 7 then 'passive'
            else 'detractor'
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
