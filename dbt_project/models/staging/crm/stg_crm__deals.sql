{{
    config(
        materialized='incremental',
        unique_key=['deal_id'],
        indexes=[{'columns': ['deal_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('crm', 'deals') }}
),

renamed as (
    select
        hs_object_id as deal_id,
        dealname as deal_name,
        associatedcompanyid as company_id,
        lower(pipeline) as pipeline,
        lower(dealstage) as deal_stage,
        lower(dealstage) in ('closedwon', 'closedlost') as is_closed,
        lower(dealstage) = 'closedwon' as is_won,
        lower(dealtype) as deal_type,
        closed_lost_reason,
        amount::numeric(14, 2) as amount,
        upper(deal_currency_code) as currency_code,
        coalesce(upper(nullif(trim(hs_analytics_source), '')), 'UNKNOWN') as acquisition_channel,
        createdate at time zone 'UTC' as created_at,
        closedate at time zone 'UTC' as close_at,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['deal_id']) }}
)

select
    deal_id,
    deal_name,
    company_id,
    pipeline,
    deal_stage,
    is_closed,
    is_won,
    deal_type,
    closed_lost_reason,
    amount,
    currency_code,
    acquisition_channel,
    created_at,
    close_at,
    {{ local_date('close_at') }} as close_date,
    case when is_closed then close_at end as closed_at,
    _batch_id as load_batch_id
from deduplicated
