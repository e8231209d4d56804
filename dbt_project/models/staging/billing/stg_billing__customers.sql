{{
    config(
        materialized='incremental',
        unique_key=['billing_customer_id'],
        indexes=[{'columns': ['billing_customer_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('billing', 'customers') }}
),

renamed as (
    select
        id as billing_customer_id,
        -- Trimmed as the CRM, help-desk and survey staging trim theirs: identity matches on both.
        case when trim(hubspot_company_id) ~ '^[0-9]+$' then trim(hubspot_company_id)::bigint end as crm_company_id,
        lower(nullif(trim(email), '')) as email,
        name as customer_name,
        to_timestamp(created) at time zone 'UTC' as created_at,
        upper(currency) as currency_code,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['billing_customer_id']) }}
)

select
    billing_customer_id,
    crm_company_id,
    email,
    customer_name,
    created_at,
    currency_code,
    _batch_id as load_batch_id
from deduplicated
