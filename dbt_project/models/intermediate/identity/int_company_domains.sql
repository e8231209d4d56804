{#
    One row per web domain a CRM company is known by (its domain and its additional domains), kept only when
    exactly one company claims it: a domain shared by two companies identifies neither.
#}
with

companies as (
    select company_id, domain, additional_domains from {{ ref('stg_crm__companies') }}
),

claimed as (
    select company_id, domain from companies where domain is not null
    union
    select company_id, unnest(additional_domains) as domain from companies
),

unambiguous as (
    select domain, min(company_id) as company_id
    from claimed
    group by domain
    having count(distinct company_id) = 1
)

select domain, company_id from unambiguous
