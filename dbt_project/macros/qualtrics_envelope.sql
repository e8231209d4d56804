{#
    The columns every Qualtrics response export carries before its questions, renamed and typed once for
    every Qualtrics survey. Qualtrics writes local time in the zone its ImportId header row names; tealeaves'
    exports say timeZone Z, so the timestamps are UTC.
#}
{% macro qualtrics_envelope() -%}
        trim(responseid) as response_id,
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
{%- endmacro %}
