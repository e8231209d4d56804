{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        indexes=[{'columns': ['source_system', 'source_id'], 'unique': True}],
        on_schema_change='sync_all_columns',
        pre_hook=["{{ hash_joins_only() }}", "{{ delete_identities_recomputed() }}"],
        post_hook=["{{ record_identity_changes() }}", "{{ record_incremental_state() }}"],
    )
}}
{#
    Every identity another system holds for a customer, matched to a CRM company.

    The order of evidence: an explicit CRM id the other system stores (billing metadata, help-desk
    organization external_id, survey external reference) beats an exact email of a CRM contact, which beats
    the email's or organization's web domain (the company's domain or one of its additional domains).
    Help-desk users inherit their organization's match before their own email is tried. Records that match
    nothing stay here, unmatched, so they are counted rather than lost. The post-hook notes which records got
    another customer (macros/row_changes.sql), for the models kept incrementally by another key.

    Incremental (macros/customer_identity_incremental.sql): a daily run recomputes the records something new may
    have matched otherwise and keeps the others. The pre-hook deletes their rows; the body appends them.

    Length (168 lines, over the style's ~150): One model: the evidence (CRM id, then email, then web domain) is
    weighed for every source's records in one pass and the strongest match wins; apart, each rule would re-read
    every record.
#}
{%- set keys = customer_identity_keys() %}
with

companies as (
    select company_id from {{ ref('stg_crm__companies') }}
),

contacts as (
    select email, company_id from {{ ref('int_contact_emails') }}
),

domains as (
    select domain, company_id from {{ ref('int_company_domains') }}
    where company_id is not null
),

billing_customers as (
    select
        'billing_customer' as source_system,
        billing_customer_id::text as source_id,
        email,
        crm_company_id as claimed_company_id,
        null::bigint as org_domain_company_id
    from {{ ref('stg_billing__customers') }}
    where {{ is_identity_recomputed(keys, 'billing_customer', 'billing_customer_id') }}
),

organizations as (
    select organization_id, crm_company_id, domain_names from {{ ref('stg_support__organizations') }}
    where {{ is_identity_recomputed(keys, 'support_organization', 'organization_id') }}
),

organization_domain_matches as (
    -- the company an organization's domain names identify, when they identify exactly one; one row per domain
    -- name, so that each is looked up by equality
    select
        organizations.organization_id,
        case when min(domains.company_id) = max(domains.company_id) then min(domains.company_id) end as company_id
    from organizations
    cross join lateral unnest(organizations.domain_names) as claimed (domain)
    inner join domains
        on claimed.domain = domains.domain
    where domains.company_id is not null
    group by organizations.organization_id
),

support_organizations as (
    select
        'support_organization' as source_system,
        organizations.organization_id::text as source_id,
        null::text as email,
        organizations.crm_company_id as claimed_company_id,
        organization_domain_matches.company_id as org_domain_company_id
    from organizations
    left join organization_domain_matches
        on organizations.organization_id = organization_domain_matches.organization_id
),

survey_respondents as (
    select
        'survey_respondent' as source_system,
        respondent_email as source_id,
        respondent_email as email,
        claimed_company_id,
        null::bigint as org_domain_company_id
    from {{ ref('int_survey_respondents') }}
    where {{ is_identity_recomputed(keys, 'survey_respondent', 'respondent_email') }}
),

records as (
    select * from billing_customers
    union all
    select * from support_organizations
    union all
    select * from survey_respondents
),

matched_records as (
    select
        records.source_system,
        records.source_id,
        records.email,
        coalesce(explicit.company_id, by_email.company_id, by_email_domain.company_id, records.org_domain_company_id)
            as crm_company_id,
        case
            when explicit.company_id is not null then 'explicit_id'
            when by_email.company_id is not null then 'email'
            when by_email_domain.company_id is not null or records.org_domain_company_id is not null then 'domain'
            else 'unmatched'
        end as match_method
    from records
    left join companies as explicit
        on records.claimed_company_id = explicit.company_id
    left join contacts as by_email
        on records.email = by_email.email
    left join domains as by_email_domain
        on split_part(records.email, '@', 2) = by_email_domain.domain
),

support_users as (
    select
        'support_user' as source_system,
        users.user_id::text as source_id,
        users.email,
        coalesce(organization.crm_company_id, by_email.company_id, by_domain.company_id) as crm_company_id,
        case
            when organization.crm_company_id is not null then 'organization'
            when by_email.company_id is not null then 'email'
            when by_domain.company_id is not null then 'domain'
            else 'unmatched'
        end as match_method
    from {{ ref('stg_support__users') }} as users
    left join matched_records as organization
        on
            organization.source_system = 'support_organization'
            and users.organization_id::text = organization.source_id
    left join contacts as by_email
        on users.email = by_email.email
    left join domains as by_domain
        on split_part(users.email, '@', 2) = by_domain.domain
    where users.role = 'end-user' and {{ is_identity_recomputed(keys, 'support_user', 'users.user_id') }}
),

identities as (
    select * from matched_records
    union all
    select * from support_users
)

select
    source_system,
    source_id,
    email,
    crm_company_id,
    match_method,
    crm_company_id is not null as is_matched,
    case
        when crm_company_id is not null then 'crm:' || crm_company_id
        when source_system = 'billing_customer' then 'billing:' || source_id
    end as customer_key
from identities
