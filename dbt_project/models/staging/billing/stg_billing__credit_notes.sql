{{
    config(
        materialized='incremental',
        unique_key=['credit_note_id'],
        indexes=[{'columns': ['credit_note_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('billing', 'credit_notes') }}
),

renamed as (
    select
        id as credit_note_id,
        invoice as invoice_id,
        customer as billing_customer_id,
        upper(currency) as currency_code,
        {{ from_minor_units('amount', 'currency') }} as amount,
        {{ from_minor_units('credit_amount', 'currency') }} as credit_amount,
        lower(status) as credit_note_status,
        lower(type) as credit_note_type,
        lower(reason) as credit_note_reason,
        refund as refund_id,
        memo,
        coalesce(lower(purpose), 'unspecified') as credit_note_purpose,
        to_timestamp(created) at time zone 'UTC' as created_at,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['credit_note_id']) }}
)

select
    credit_note_id,
    invoice_id,
    billing_customer_id,
    currency_code,
    amount,
    credit_amount,
    credit_note_status,
    credit_note_type,
    credit_note_reason,
    refund_id,
    memo,
    credit_note_purpose,
    created_at,
    _batch_id as load_batch_id
from deduplicated
