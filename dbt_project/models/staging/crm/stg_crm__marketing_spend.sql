with

source as (
    select * from {{ audited_source('crm', 'marketing_spend') }}
),

renamed as (
    select
        spend_date,
        upper(channel) as channel,
        lower(campaign_id) as campaign_id,
        spend::numeric(14, 2) as spend_amount,
        upper(currency) as currency_code,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['spend_date', 'channel', 'campaign_id']) }}
)

select
    {{ surrogate_key(['spend_date', 'channel', 'campaign_id']) }} as spend_id,
    spend_date,
    channel,
    campaign_id,
    spend_amount,
    currency_code,
    _batch_id as load_batch_id
from deduplicated
