{{
    config(
        materialized='incremental',
        unique_key=['contact_id'],
        indexes=[{'columns': ['contact_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('crm', 'contacts') }}
),

renamed as (
    select
        hs_object_id as contact_id,
        lower(nullif(trim(email), '')) as email,
        firstname as first_name,
        lastname as last_name,
        associatedcompanyid as company_id,
        createdate at time zone 'UTC' as created_at,
        lower(lifecyclestage) as lifecycle_stage,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['contact_id']) }}
)

select
    contact_id,
    email,
    first_name,
    last_name,
    company_id,
    created_at,
    lifecycle_stage,
    _batch_id as load_batch_id
from deduplicated
