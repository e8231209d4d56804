{{
    config(
        materialized='incremental',
        unique_key=['line_item_id'],
        indexes=[{'columns': ['line_item_id']}],
    )
}}
{#
    One row per invoice line item, from either shape Stripe's lines come in: the flat export (one line item a line,
    invoice_line_items*.jsonl) or nested in the invoice, as the API returns it (invoices*.jsonl, lines.data[]). An
    export may carry either or both; a line in both is one line (by id, the newest batch's copy).
#}
with

flat_lines as (
    select
        id,
        invoice,
        subscription,
        type,
        price_id,
        quantity,
        currency,
        amount,
        discount_amount,
        description,
        proration,
        period_start,
        period_end,
        _batch_id,
        _source_line
    from {{ restaged_source('billing', 'invoice_line_items') }}
),

nested_lines as (
    -- the same Stripe line item object, read from the invoice's lines.data[]
    select
        lines_data.line ->> 'id' as id,
        coalesce(lines_data.line ->> 'invoice', audited_rows.id) as invoice,
        lines_data.line ->> 'subscription' as subscription,
        lines_data.line ->> 'type' as type,
        lines_data.line #>> '{price,id}' as price_id,
        (lines_data.line ->> 'quantity')::bigint as quantity,
        lines_data.line ->> 'currency' as currency,
        (lines_data.line ->> 'amount')::bigint as amount,
        (lines_data.line #>> '{discount_amounts,0,amount}')::bigint as discount_amount,
        lines_data.line ->> 'description' as description,
        (lines_data.line ->> 'proration')::boolean as proration,
        (lines_data.line #>> '{period,start}')::bigint as period_start,
        (lines_data.line #>> '{period,end}')::bigint as period_end,
        audited_rows._batch_id,
        audited_rows._source_line
    from {{ restaged_source('billing', 'invoices') }}
    cross join {{ nested_invoice_lines('audited_rows.lines') }} as lines_data
    where nullif(trim(lines_data.line ->> 'id'), '') is not null
),

source as (
    select * from flat_lines
    union all
    select * from nested_lines
),

renamed as (
    select
        id as line_item_id,
        invoice as invoice_id,
        subscription as subscription_id,
        lower(type) as line_type,
        price_id,
        quantity,
        upper(currency) as currency_code,
        {{ from_minor_units('amount', 'currency') }} as amount,
        {{ from_minor_units('coalesce(discount_amount, 0)', 'currency') }} as discount_amount,
        {{ from_minor_units('(amount - coalesce(discount_amount, 0))', 'currency') }} as amount_after_discount,
        description as line_description,
        coalesce(proration, false) as is_proration,
        to_timestamp(period_start) at time zone 'UTC' as period_start_at,
        to_timestamp(period_end) at time zone 'UTC' as period_end_at,
        _batch_id,
        _source_line
    from source
),

deduplicated as (
    {{ dedupe_latest('renamed', ['line_item_id']) }}
)

select
    line_item_id,
    invoice_id,
    subscription_id,
    line_type,
    price_id,
    quantity,
    currency_code,
    amount,
    discount_amount,
    amount_after_discount,
    line_description,
    is_proration,
    period_start_at,
    period_end_at,
    _batch_id as load_batch_id
from deduplicated
