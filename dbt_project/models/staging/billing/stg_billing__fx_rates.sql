with

source as (
    select * from {{ audited_source('billing', 'fx_rates') }}
),

renamed as (
    select
        rate_date,
        upper(currency) as currency_code,
        rate_to_usd,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['rate_date', 'currency_code']) }}
)

select
    rate_date,
    currency_code,
    rate_to_usd,
    _batch_id as load_batch_id
from deduplicated
