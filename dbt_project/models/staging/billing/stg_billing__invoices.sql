with

source as (
    select * from {{ source('billing', 'invoices') }}
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
    _batch_id as load_batch_id
from deduplicated
