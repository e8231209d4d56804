{{
    config(
        materialized='incremental',
        unique_key=['organization_id'],
        indexes=[{'columns': ['organization_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('support', 'organizations') }}
),

renamed as (
    select
        id as organization_id,
        trim(name) as organization_name,
        array(
            select lower(trim(domain.value))
            from jsonb_array_elements_text(
                case when jsonb_typeof(source.domain_names) = 'array' then source.domain_names else '[]'::jsonb end
            ) as domain (value)
        )::text[] as domain_names,
        nullif(trim(external_id), '') as external_id,
        case when trim(external_id) ~ '^[0-9]+$' then trim(external_id)::bigint end as crm_company_id,
        created_at at time zone 'UTC' as created_at,
        updated_at at time zone 'UTC' as updated_at,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['organization_id']) }}
)

select
    organization_id,
    organization_name,
    domain_names,
    external_id,
    crm_company_id,
    created_at,
    updated_at,
    _batch_id as load_batch_id
from deduplicated
