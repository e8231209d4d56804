{{
    config(
        materialized='incremental',
        unique_key=['note_id'],
        indexes=[{'columns': ['note_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('crm', 'deal_notes') }}
),

renamed as (
    select
        hs_object_id as note_id,
        deal_id,
        associatedcompanyid as company_id,
        hs_timestamp at time zone 'UTC' as noted_at,
        nullif(trim(hs_note_body), '') as note_body,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['note_id']) }}
)

select
    note_id,
    deal_id,
    company_id,
    noted_at,
    note_body,
    -- Sales logs requests a deal depends on as "Deal blocker: <what>" (opportunistic product input).
    coalesce(note_body ilike 'deal blocker:%', false) as is_deal_blocker,
    _batch_id as load_batch_id
from deduplicated
