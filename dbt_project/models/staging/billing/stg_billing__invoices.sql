{{
    config(
        materialized='incremental',
        unique_key=['invoice_id'],
        indexes=[{'columns': ['invoice_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('billing', 'invoices') }}
),

renamed as (
    select
        id as invoice_id,
        customer as billing_customer_id,
        subscription as subscription_id,
        lower(status) as invoice_status,
        lower(billing_reason) as billing_reason,
        upper(currency) as currency_code,
        -- Stripe amounts are in the currency's minor unit (cents, but yen for JPY): macro from_minor_units.
        {{ from_minor_units('amount_due', 'currency') }} as amount_due,
        {{ from_minor_units('amount_paid', 'currency') }} as amount_paid,
        to_timestamp(created) at time zone 'UTC' as created_at,
        to_timestamp(period_start) at time zone 'UTC' as period_start_at,
        to_timestamp(period_end) at time zone 'UTC' as period_end_at,
        -- Added with the widened export; older exports leave them null (subtotal and total then equal amount_due).
        {{ from_minor_units('coalesce(subtotal, amount_due)', 'currency') }} as subtotal,
        {{ from_minor_units('coalesce(total, amount_due)', 'currency') }} as total,
        {{ from_minor_units('coalesce(discount_amount, 0)', 'currency') }} as discount_amount,
        {{ from_minor_units('amount_remaining', 'currency') }} as amount_remaining,
        attempt_count,
        charge as latest_charge_id,
        discount_id,
        coupon_id,
        to_timestamp(paid_at) at time zone 'UTC' as paid_at,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['invoice_id']) }}
)

select
    invoice_id,
    billing_customer_id,
    subscription_id,
    invoice_status,
    billing_reason,
    currency_code,
    amount_due,
    amount_paid,
    created_at,
    period_start_at,
    period_end_at,
    subtotal,
    total,
    discount_amount,
    amount_remaining,
    attempt_count,
    latest_charge_id,
    discount_id,
    coupon_id,
    paid_at,
    _batch_id as load_batch_id
from deduplicated
