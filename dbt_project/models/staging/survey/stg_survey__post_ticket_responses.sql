with

source as (
    select * from {{ source('survey', 'post_ticket_responses') }}
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
