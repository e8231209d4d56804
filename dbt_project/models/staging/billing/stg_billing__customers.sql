{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['billing_customer_id'],
        on_schema_change='sync_all_columns',
        indexes=[{'columns': ['billing_customer_id']}],
        pre_hook="{{ restage_everything_first() }}",
        post_hook="{{ record_incremental_state() }}",
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
