{{
    config(
        materialized='incremental',
        unique_key=['deal_id', 'deal_stage'],
        indexes=[{'columns': ['deal_id', 'deal_stage']}],
    )
}}
with

source as (
    select * from {{ restaged_source('crm', 'deal_stage_history') }}
),

renamed as (
    select
        source.deal_id,
        lower(pipeline) as pipeline,
        lower(source.dealstage) as deal_stage,
        upper(source.source) as change_source,
        source.date_entered at time zone 'UTC' as entered_at,
        source._batch_id,
        source._source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['deal_id', 'deal_stage']) }}
)

select
    {{ surrogate_key(['deal_id', 'deal_stage']) }} as deal_stage_entry_id,
    deal_id,
    pipeline,
    deal_stage,
    -- Position in the default pipeline; both closed stages come last.
    case deal_stage
        when 'appointmentscheduled' then 1
        when 'qualifiedtobuy' then 2
        when 'presentationscheduled' then 3
        when 'decisionmakerboughtin' then 4
        when 'contractsent' then 5
        when 'closedwon' then 6
        when 'closedlost' then 6
    end as stage_order,
    change_source,
    entered_at,
    _batch_id as load_batch_id
from deduplicated
