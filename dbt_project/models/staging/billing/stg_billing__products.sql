with

source as (
    select * from {{ audited_source('billing', 'products') }}
),

renamed as (
    select
        id as product_id,
        name as product_name,
        description as product_description,
        coalesce(active, true) as is_active,
        lower(unit_label) as unit_label,
        lower(segment) as segment,
        to_timestamp(created) at time zone 'UTC' as created_at,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['product_id']) }}
)

select
    product_id,
    product_name,
    product_description,
    is_active,
    unit_label,
    segment,
    created_at,
    _batch_id as load_batch_id
from deduplicated
