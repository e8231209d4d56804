with

source as (
    select * from {{ audited_source('support', 'ticket_field_history') }}
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

deduplicated as (
    {{ dedupe_latest('renamed', ['field_change_id']) }}
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
