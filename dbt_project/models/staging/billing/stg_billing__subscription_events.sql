{{
    config(
        materialized='incremental',
        unique_key=['event_id'],
        indexes=[{'columns': ['event_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('billing', 'subscription_events') }}
),

renamed as (
    select
        id as event_id,
        lower(type) as event_type,
        split_part(lower(type), '.', 3) as event_action,
        to_timestamp(created) at time zone 'UTC' as occurred_at,
        api_version,
        subscription_id,
        customer as billing_customer_id,
        lower(status) as subscription_status,
        quantity,
        previous_quantity,
        quantity - previous_quantity as quantity_change,
        lower(previous_status) as previous_status,
        price_id,
        -- Stripe lists a changed array whole in previous_attributes, so any change to the items carries the
        -- old item's price (older API versions also show the legacy plan); null when the items were untouched.
        coalesce(
            previous_attributes #>> '{items,data,0,price,id}',
            previous_attributes #>> '{plan,id}'
        ) as previous_price_id,
        cancel_at_period_end,
        previous_attributes,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['event_id']) }}
)

select
    event_id,
    event_type,
    event_action,
    occurred_at,
    api_version,
    subscription_id,
    billing_customer_id,
    subscription_status,
    quantity,
    previous_quantity,
    quantity_change,
    previous_status,
    price_id,
    previous_price_id,
    cancel_at_period_end,
    previous_attributes,
    _batch_id as load_batch_id
from deduplicated
