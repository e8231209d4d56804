with

source as (
    select * from {{ audited_source('billing', 'invoice_line_items') }}
),

renamed as (
    select
        id as line_item_id,
        invoice as invoice_id,
        subscription as subscription_id,
        lower(type) as line_type,
        price_id,
        quantity,
        upper(currency) as currency_code,
        (amount / 100.0)::numeric(14, 2) as amount,
        (coalesce(discount_amount, 0) / 100.0)::numeric(14, 2) as discount_amount,
        ((amount - coalesce(discount_amount, 0)) / 100.0)::numeric(14, 2) as amount_after_discount,
        description as line_description,
        coalesce(proration, false) as is_proration,
        to_timestamp(period_start) at time zone 'UTC' as period_start_at,
        to_timestamp(period_end) at time zone 'UTC' as period_end_at,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['line_item_id']) }}
)

select
    line_item_id,
    invoice_id,
    subscription_id,
    line_type,
    price_id,
    quantity,
    currency_code,
    amount,
    discount_amount,
    amount_after_discount,
    line_description,
    is_proration,
    period_start_at,
    period_end_at,
    _batch_id as load_batch_id
from deduplicated
