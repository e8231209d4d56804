{{
    config(
        materialized='incremental',
        unique_key=['company_id'],
        indexes=[{'columns': ['company_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('crm', 'companies') }}
),

renamed as (
    select
        hs_object_id as company_id,
        name as company_name,
        -- Bare domains (no www., scheme or path), as the part of an email after the @ that identity compares.
        {{ web_domain('domain') }} as domain,
        -- HubSpot exports other domains semicolon-separated; identity matching looks up emails in both.
        array(
            select {{ web_domain('extra_domain') }}
            from unnest(string_to_array(hs_additional_domains, ';')) as extra_domain
            where {{ web_domain('extra_domain') }} is not null
        ) as additional_domains,
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
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['company_id']) }}
)

select
    company_id,
    company_name,
    domain,
    created_at,
    lifecycle_stage,
    acquisition_channel,
    industry,
    employee_count,
    segment,
    country_code,
    additional_domains,
    _batch_id as load_batch_id
from deduplicated
