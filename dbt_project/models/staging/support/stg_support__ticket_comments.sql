{{
    config(
        materialized='incremental',
        unique_key=['ticket_id', 'comment_id'],
        indexes=[{'columns': ['ticket_id', 'comment_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('support', 'ticket_comments') }}
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

-- keyed by ticket too: a comment belongs to one ticket for good (Zendesk records it on that ticket; a merge
-- adds new records to the target), so the key is the same, and a filter on ticket_id (the incremental support
-- models' tickets to recompute) reaches the raw scan below the DISTINCT ON instead of waiting above it
deduplicated as (
    {{ dedupe_latest('renamed', ['ticket_id', 'comment_id']) }}
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
