with

source as (
    select * from {{ audited_source('crm', 'campaigns') }}
),

renamed as (
    select
        lower(campaign_id) as campaign_id,
        hs_name as campaign_name,
        lower(hs_campaign_status) as campaign_status,
        upper(channel) as channel,
        hs_start_date as started_on,
        hs_end_date as ended_on,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['campaign_id']) }}
)

select
    campaign_id,
    campaign_name,
    campaign_status,
    channel,
    started_on,
    ended_on,
    _batch_id as load_batch_id
from deduplicated
