{{
    config(
        post_hook="{{ record_row_changes(['domain'], ['company_id']) }}",
    )
}}
{#
    One row per web domain a CRM company is known by (its domain and its additional domains), kept only when
    exactly one company claims it: a domain shared by two companies identifies neither. A free-mail domain
    (seed free_email_domains: gmail.com, outlook.com, ...) identifies no company even when a company record
    carries it, or every Gmail payer would become that company. The post-hook notes which domains got another
    company or left (macros/row_changes.sql), for int_customer_identity, kept incrementally by record.
#}
with

companies as (
    select company_id, domain, additional_domains from {{ ref('stg_crm__companies') }}
),

free_email_domains as (
    select lower(trim(domain)) as domain from {{ ref('free_email_domains') }}
),

claimed as (
    select company_id, domain from companies
    where domain is not null
    union
    select company_id, unnest(additional_domains) as domain from companies
),

unambiguous as (
    select claimed.domain, min(claimed.company_id) as company_id
    from claimed
    where
        not exists (
            select from free_email_domains
            where free_email_domains.domain = claimed.domain
        )
    group by claimed.domain
    having count(distinct company_id) = 1
)

select domain, company_id from unambiguous
