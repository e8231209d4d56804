with

source as (
    select * from {{ audited_source('billing', 'coupons') }}
),

renamed as (
    select
        id as coupon_id,
        name as coupon_name,
        percent_off,
        {{ from_minor_units('amount_off', 'currency') }} as amount_off,
        upper(currency) as currency_code,
        lower(duration) as duration,
        duration_in_months,
        coalesce(valid, true) as is_valid,
        coalesce(lower(purpose), 'unspecified') as coupon_purpose,
        coalesce(lower(purpose) = 'retention', false) as is_retention_offer,
        to_timestamp(created) at time zone 'UTC' as created_at,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['coupon_id']) }}
)

select
    coupon_id,
    coupon_name,
    percent_off,
    amount_off,
    currency_code,
    duration,
    duration_in_months,
    is_valid,
    coupon_purpose,
    is_retention_offer,
    created_at,
    _batch_id as load_batch_id
from deduplicated
