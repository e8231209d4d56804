with

source as (
    {{ dedupe_latest(source('crm', 'companies'), ['hs_object_id']) }}
),

renamed as (
    select
        hs_object_id as company_id,
        name as company_name,
        lower(nullif(trim(domain), '')) as domain,
        createdate at time zone 'UTC' as created_at,
        lower(lifecyclestage) as lifecycle_stage,
        coalesce(upper(nullif(trim(hs_analytics_source), '')), 'UNKNOWN') as acquisition_channel,
        industry,
        numberofemployees as employee_count,
        case
            when numberofemployees >= 1000 then 'enterprise'
            when numberofemployees >= 50 then 'mid_market'
            when numberofemployees >= 1 then 'smb'
            else 'unknown'
        end as segment,
        upper(country) as country_code,
        _batch_id as load_batch_id
    from source
)

select * from renamed
