with

source as (
    select * from {{ audited_source('billing', 'invoices') }}
),

renamed as (
    select
        id as invoice_id,
        customer as billing_customer_id,
        subscription as subscription_id,
        lower(status) as invoice_status,
        lower(billing_reason) as billing_reason,
        upper(currency) as currency_code,
        -- Stripe amounts are in minor units; every currency tealeaves accepts today has two decimals.
        (amount_due / 100.0)::numeric(14, 2) as amount_due,
        (amount_paid / 100.0)::numeric(14, 2) as amount_paid,
        to_timestamp(created) at time zone 'UTC' as created_at,
        to_timestamp(period_start) at time zone 'UTC' as period_start_at,
        to_timestamp(period_end) at time zone 'UTC' as period_end_at,
        -- Added with the widened export; older exports leave them null (subtotal and total then equal amount_due).
        (coalesce(subtotal, amount_due) / 100.0)::numeric(14, 2) as subtotal,
        (coalesce(total, amount_due) / 100.0)::numeric(14, 2) as total,
        (coalesce(discount_amount, 0) / 100.0)::numeric(14, 2) as discount_amount,
        (amount_remaining / 100.0)::numeric(14, 2) as amount_remaining,
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
