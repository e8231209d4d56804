{{
    config(
        materialized='incremental',
        unique_key=['charge_id'],
        indexes=[{'columns': ['charge_id']}],
    )
}}
with

source as (
    select * from {{ restaged_source('billing', 'charges') }}
),

renamed as (
    select
        id as charge_id,
        customer as billing_customer_id,
        invoice as invoice_id,
        lower(status) as charge_status,
        upper(currency) as currency_code,
        {{ from_minor_units('amount', 'currency') }} as amount,
        {{ from_minor_units('amount_captured', 'currency') }} as amount_captured,
        {{ from_minor_units('amount_refunded', 'currency') }} as amount_refunded,
        coalesce(paid, lower(status) = 'succeeded') as is_paid,
        coalesce(captured, false) as is_captured,
        coalesce(refunded, false) as is_refunded,
        lower(failure_code) as failure_code,
        failure_message,
        description as charge_description,
        lower(outcome_type) as outcome_type,
        lower(outcome_network_status) as network_status,
        lower(payment_method_type) as payment_method_type,
        to_timestamp(created) at time zone 'UTC' as created_at,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['charge_id']) }}
)

select
    charge_id,
    billing_customer_id,
    invoice_id,
    charge_status,
    currency_code,
    amount,
    amount_captured,
    amount_refunded,
    is_paid,
    is_captured,
    is_refunded,
    failure_code,
    failure_message,
    charge_description,
    outcome_type,
    network_status,
    payment_method_type,
    created_at,
    _batch_id as load_batch_id
from deduplicated
