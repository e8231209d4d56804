{{
    config(
        materialized='incremental',
        unique_key=['ticket_id', 'field_change_id'],
        indexes=[{'columns': ['ticket_id', 'field_change_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('support', 'ticket_field_history') }}
),

renamed as (
    select
        id as field_change_id,
        ticket_id,
        lower(trim(field_name)) as field_name,
        lower(trim(value)) as new_value,
        lower(trim(previous_value)) as previous_value,
        updated at time zone 'UTC' as changed_at,
        user_id as changed_by_user_id,
        _batch_id,
        _source_line
    from source
),

-- keyed by ticket too: a field change belongs to one ticket for good (Zendesk records it on that ticket; a merge
-- adds new records to the target), so the key is the same, and a filter on ticket_id (the incremental support
-- models' tickets to recompute) reaches the raw scan below the DISTINCT ON instead of waiting above it
deduplicated as (
    {{ dedupe_latest('renamed', ['ticket_id', 'field_change_id']) }}
)

select
    field_change_id,
    ticket_id,
    field_name,
    new_value,
    previous_value,
    changed_at,
    changed_by_user_id,
    _batch_id as load_batch_id
from deduplicated
