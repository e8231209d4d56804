with

source as (
    {{ dedupe_latest(source('crm', 'marketing_spend'), ['spend_date', 'channel', 'campaign_id']) }}
),

renamed as (
    select
        {{ surrogate_key(['spend_date', 'channel', 'campaign_id']) }} as spend_id,
        spend_date,
        upper(trim(channel)) as channel,
        campaign_id,
        spend::numeric(14, 2) as spend_amount,
        upper(trim(currency)) as currency_code,
        _batch_id as load_batch_id
    from source
)

select * from renamed
