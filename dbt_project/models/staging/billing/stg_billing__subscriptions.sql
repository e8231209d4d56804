{{
    config(
        materialized='incremental',
        unique_key=['subscription_id'],
        indexes=[{'columns': ['subscription_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('billing', 'subscriptions') }}
),

renamed as (
    select
        id as subscription_id,
        customer as billing_customer_id,
        lower(status) as subscription_status,
        price_id,
        subscription_item_id,
        quantity,
        upper(currency) as currency_code,
        lower(collection_method) as collection_method,
        coalesce(cancel_at_period_end, false) as cancel_at_period_end,
        to_timestamp(cancel_at) at time zone 'UTC' as cancel_at,
        to_timestamp(canceled_at) at time zone 'UTC' as canceled_at,
        to_timestamp(ended_at) at time zone 'UTC' as ended_at,
        to_timestamp(start_date) at time zone 'UTC' as started_at,
        to_timestamp(current_period_start) at time zone 'UTC' as current_period_start_at,
        to_timestamp(current_period_end) at time zone 'UTC' as current_period_end_at,
        to_timestamp(created) at time zone 'UTC' as created_at,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['subscription_id']) }}
)

select
    subscription_id,
    billing_customer_id,
    subscription_status,
    price_id,
    subscription_item_id,
    quantity,
    currency_code,
    collection_method,
    cancel_at_period_end,
    cancel_at,
    canceled_at,
    ended_at,
    started_at,
    current_period_start_at,
    current_period_end_at,
    created_at,
    _batch_id as load_batch_id
from deduplicated
