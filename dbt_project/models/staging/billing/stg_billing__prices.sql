with

source as (
    select * from {{ audited_source('billing', 'prices') }}
),

renamed as (
    select
        id as price_id,
        product as product_id,
        coalesce(active, true) as is_active,
        upper(currency) as currency_code,
        -- the exact decimal unit price when given (Stripe's unit_amount_decimal), else the rounded integer one
        {{ from_minor_units('coalesce(unit_amount_decimal, unit_amount)', 'currency', 'numeric(18, 8)') }}
            as unit_amount,
        lower(billing_scheme) as billing_scheme,
        lower(type) as price_type,
        lower(recurring_interval) as billing_interval,
        coalesce(recurring_interval_count, 1) as billing_interval_count,
        nickname as price_nickname,
        to_timestamp(created) at time zone 'UTC' as created_at,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['price_id']) }}
)

select
    price_id,
    product_id,
    is_active,
    currency_code,
    unit_amount,
    billing_scheme,
    price_type,
    billing_interval,
    billing_interval_count,
    price_nickname,
    created_at,
    _batch_id as load_batch_id
from deduplicated
