{{
    config(
        materialized='incremental',
        unique_key=['refund_id'],
        indexes=[{'columns': ['refund_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('billing', 'refunds') }}
),

renamed as (
    select
        id as refund_id,
        charge as charge_id,
        invoice as invoice_id,
        upper(currency) as currency_code,
        {{ from_minor_units('amount', 'currency') }} as amount,
        lower(reason) as refund_reason,
        lower(status) as refund_status,
        to_timestamp(created) at time zone 'UTC' as created_at,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['refund_id']) }}
)

select
    refund_id,
    charge_id,
    invoice_id,
    currency_code,
    amount,
    refund_reason,
    refund_status,
    created_at,
    _batch_id as load_batch_id
from deduplicated
