{{
    config(
        materialized='incremental',
        unique_key=['satisfaction_rating_id'],
        indexes=[{'columns': ['satisfaction_rating_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('support', 'satisfaction_ratings') }}
),

renamed as (
    select
        id as satisfaction_rating_id,
        ticket_id,
        requester_id,
        assignee_id,
        lower(trim(score)) as score,
        lower(trim(score)) = 'good' as is_good,
        nullif(trim(comment), '') as rating_comment,
        created_at at time zone 'UTC' as created_at,
        updated_at at time zone 'UTC' as updated_at,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['satisfaction_rating_id']) }}
)

select
    satisfaction_rating_id,
    ticket_id,
    requester_id,
    assignee_id,
    score,
    is_good,
    rating_comment,
    created_at,
    updated_at,
    _batch_id as load_batch_id
from deduplicated
