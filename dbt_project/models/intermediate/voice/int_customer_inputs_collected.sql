{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        indexes=[{'columns': ['input_source', 'source_id'], 'unique': True}],
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_customer_inputs_recomputed() }}",
        post_hook="{{ record_incremental_state() }}",
    )
}}
{#
    Every piece of free text or tagging in which a customer (or a prospect, through sales) tells us what the
    product should do, from every system that holds one, with the customer it belongs to. Classification
    into the five classes of product input happens in int_customer_inputs_classified.

    Customer: an explicit CRM company id on the record wins (survey external reference, deal note company,
    help-desk organization linked to the CRM); otherwise the identity int_customer_identity matched for the
    help-desk organization, the help-desk user or the survey respondent's email. Null when nothing matches.

    Incremental (macros/customer_inputs_incremental.sql): a daily run recomputes the inputs something new
    touched - their own records, a rated ticket's, a named company's, their customer's identity - and keeps the
    others. The pre-hook deletes the touched inputs' rows; the body appends those that still qualify.

    Length (182 lines, over the style's ~150): One model: six systems' inputs share one shape and one customer
    lookup; apart, each would be a model of a dozen lines and the union would read them all again.
#}
{%- set keys = customer_inputs_keys() -%}
with

companies as (
    select company_id from {{ ref('stg_crm__companies') }}
),

identity as (
    select source_system, source_id, customer_key
    from {{ ref('int_customer_identity') }}
    where customer_key is not null
),

support_tickets as (
    select
        'support_ticket' as input_source,
        tickets.ticket_id::text as source_id,
        coalesce(organization.customer_key, requester.customer_key) as customer_key,
        tickets.created_at as occurred_at,
        tickets.subject as input_text,
        -- the ticket type travels with the tags as type:<type>, so rules can fall back on it
        coalesce(tickets.tags, array[]::text[])
        || array_remove(array['type:' || tickets.ticket_type], null) as tags
    from {{ ref('stg_support__tickets') }} as tickets
    left join identity as organization
        on
            organization.source_system = 'support_organization'
            and tickets.organization_id::text = organization.source_id
    left join identity as requester
        on
            requester.source_system = 'support_user'
            and tickets.requester_id::text = requester.source_id
    -- deleted tickets are left out, as Zendesk's reporting leaves them out
    where tickets.is_deleted is not true
    {%- if keys is not none %}
        and tickets.ticket_id = any({{ customer_input_ids(keys, 'support_ticket') }})
    {%- endif %}
),

support_rating_comments as (
    select
        'support_rating_comment' as input_source,
        ratings.satisfaction_rating_id::text as source_id,
        requester.customer_key,
        ratings.created_at as occurred_at,
        ratings.rating_comment as input_text,
        array[]::text[] as tags
    from {{ ref('stg_support__satisfaction_ratings') }} as ratings
    left join identity as requester
        on
            requester.source_system = 'support_user'
            and ratings.requester_id::text = requester.source_id
    where
        ratings.rating_comment is not null
        {%- if keys is not none %}
        and ratings.satisfaction_rating_id = any({{ customer_input_ids(keys, 'support_rating_comment') }})
        {%- endif %}
        and not exists (
            select from {{ ref('stg_support__tickets') }} as deleted_tickets
            where deleted_tickets.ticket_id = ratings.ticket_id and deleted_tickets.is_deleted
        )
),

survey_texts as (
    select
        'nps_comment' as input_source,
        response_id as source_id,
        crm_company_id,
        respondent_email,
        submitted_at as occurred_at,
        score_reason as input_text
    from {{ ref('stg_survey__nps_responses') }}
    where score_reason is not null
    {%- if keys is not none %}
        and response_id = any({{ customer_input_ids(keys, 'nps_comment') }})
    {%- endif %}
    union all
    select
        'post_ticket_comment' as input_source,
        response_id as source_id,
        crm_company_id,
        respondent_email,
        submitted_at as occurred_at,
        comment as input_text
    from {{ ref('stg_survey__post_ticket_responses') }}
    where comment is not null
    {%- if keys is not none %}
        and response_id = any({{ customer_input_ids(keys, 'post_ticket_comment') }})
    {%- endif %}
    union all
    select
        'scorecard_hated_thing' as input_source,
        submission_id as source_id,
        crm_company_id,
        respondent_email,
        submitted_at as occurred_at,
        hated_thing_text as input_text
    from {{ ref('stg_survey__scorecard_responses') }}
    where hated_thing_text is not null
    {%- if keys is not none %}
        and submission_id = any({{ customer_input_ids(keys, 'scorecard_hated_thing') }})
    {%- endif %}
),

survey_inputs as (
    select
        survey_texts.input_source,
        survey_texts.source_id,
        coalesce('crm:' || companies.company_id, respondent.customer_key) as customer_key,
        survey_texts.occurred_at,
        survey_texts.input_text,
        array[]::text[] as tags
    from survey_texts
    left join companies
        on survey_texts.crm_company_id = companies.company_id
    left join identity as respondent
        on
            respondent.source_system = 'survey_respondent'
            and survey_texts.respondent_email = respondent.source_id
),

deal_blocker_notes as (
    select
        'deal_blocker_note' as input_source,
        notes.note_id::text as source_id,
        'crm:' || companies.company_id as customer_key,
        notes.noted_at as occurred_at,
        notes.note_body as input_text,
        array[]::text[] as tags
    from {{ ref('stg_crm__deal_notes') }} as notes
    left join companies
        on notes.company_id = companies.company_id
    where notes.is_deal_blocker
    {%- if keys is not none %}
        and notes.note_id = any({{ customer_input_ids(keys, 'deal_blocker_note') }})
    {%- endif %}
),

inputs as (
    select * from support_tickets
    union all
    select * from support_rating_comments
    union all
    select * from survey_inputs
    union all
    select * from deal_blocker_notes
)

select
    input_source,
    source_id,
    customer_key,
    occurred_at,
    {{ local_month('occurred_at') }} as month,
    input_text,
    tags
from inputs
