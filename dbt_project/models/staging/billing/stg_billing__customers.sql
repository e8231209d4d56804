with

source as (
    {{ dedupe_latest(source('billing', 'customers'), ['id']) }}
),

renamed as (
    select
        id as billing_customer_id,
        nullif(trim(hubspot_company_id), '')::bigint as crm_company_id,
        lower(trim(email)) as email,
        name as customer_name,
        to_timestamp(created) at time zone 'UTC' as created_at,
        upper(currency) as currency_code,
        _batch_id as load_batch_id
    from source
)

select * from renamed
