with

source as (
    select * from {{ audited_source('support', 'ticket_comments') }}
),

renamed as (
    select
        id as comment_id,
        ticket_id,
        author_id,
        body,
        public as is_public,
        lower(trim(channel)) as channel,
        created_at at time zone 'UTC' as created_at,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['comment_id']) }}
)

select
    comment_id,
    ticket_id,
    author_id,
    body,
    is_public,
    channel,
    created_at,
    _batch_id as load_batch_id
from deduplicated
