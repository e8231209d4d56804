{{
    config(
        materialized='incremental',
        unique_key=['user_id'],
        indexes=[{'columns': ['user_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('support', 'users') }}
),

renamed as (
    select
        id as user_id,
        trim(name) as user_name,
        lower(nullif(trim(email), '')) as email,
        lower(trim(role)) as role,
        lower(trim(role)) in ('agent', 'admin') as is_agent,
        organization_id,
        created_at at time zone 'UTC' as created_at,
        updated_at at time zone 'UTC' as updated_at,
        active as is_active,
        verified as is_verified,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['user_id']) }}
)

select
    user_id,
    user_name,
    email,
    role,
    is_agent,
    organization_id,
    created_at,
    updated_at,
    is_active,
    is_verified,
    _batch_id as load_batch_id
from deduplicated
