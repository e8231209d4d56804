{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        indexes=[{'columns': ['domain'], 'unique': True}],
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_keys_recomputed('domain', company_domains_keys()) }}",
        post_hook=[
            "{{ gin_index_if_missing('company_ids') }}",
            "{{ record_row_changes(['domain'], ['company_id'], keys_scope('domain', company_domains_keys())) }}",
            "{{ record_incremental_state() }}",
        ],
    )
}}
{#
    One row per web domain a CRM company is known by (its domain and its additional domains), with the company it
    identifies: null when two companies claim it (it identifies neither), and the companies that claim it. A
    free-mail domain (seed free_email_domains: gmail.com, outlook.com, ...) identifies no company even when a
    company record carries it, or every Gmail payer would become that company: it has no row. The post-hook notes
    which domains got another company or left (macros/row_changes.sql), for int_customer_identity, kept
    incrementally by record.

    Incremental (macros/company_domains_incremental.sql): a daily run recomputes the domains of the companies it
    stages, now and before (company_ids names them), and keeps the others.
#}
{%- set domains = company_domains_keys() %}
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

recomputed as (
    select company_id, domain from claimed
    {%- if domains is not none %}
    where domain = any({{ domains }})
    {%- endif %}
),

claimants as (
    select
        recomputed.domain,
        case when min(recomputed.company_id) = max(recomputed.company_id) then min(recomputed.company_id) end
            as company_id,
        array_agg(recomputed.company_id order by recomputed.company_id) as company_ids
    from recomputed
    where
        not exists (
            select from free_email_domains
            where free_email_domains.domain = recomputed.domain
        )
    group by recomputed.domain
)

select domain, company_id, company_ids from claimants
