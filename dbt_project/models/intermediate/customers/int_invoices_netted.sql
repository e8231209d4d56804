{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        indexes=[{'columns': ['invoice_id'], 'unique': True}],
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_invoices_netted_recomputed() }}",
        post_hook=["{{ record_incremental_state(rebuilt_whole=not incremental_plan().incremental) }}", "{{ index_if_missing('customer_key', 'by_customer') }}"],
    )
}}
{#
    One row per paid invoice, tied to its customer, with the money that stayed: the amount paid less what was
    refunded, in the reporting currency. A refund is converted at its invoice's own FX rate, so a fully
    refunded invoice nets to exactly 0 whatever the rate did in between. A refund names its invoice in
    metadata; when that is missing, the refunded charge's invoice is used.

    Service credits (credit notes with no refund) are not taken off: Stripe puts them on the customer's balance,
    which pays part of a later invoice, so that later invoice's amount_paid is already lower. Refund credit notes
    are the refunds themselves and are not counted twice. Invoices in a currency without an FX rate keep
    fx_missing = true and null USD amounts.

    Incremental (macros/invoices_netted_incremental.sql): a daily run recomputes the invoices something new
    touched - their own records, an FX rate, a refund or charge of theirs, their billing customer's identity -
    and keeps the others. The pre-hook deletes the touched invoices' rows; the body appends those still paid.
    Indexed on customer_key too (a post-hook, so that a warehouse built before it gets it): int_customer_revenue
    reads the invoices of the customers it recomputes.
#}
{%- set keys = invoices_netted_keys() %}
with

invoices as (
    select * from {{ ref('int_invoices_converted') }}
    where invoice_status = 'paid' and amount_paid > 0
    {%- if keys is not none %}
        and invoice_id = any({{ keys }})
    {%- endif %}
),

billing_identity as (
    select source_id as billing_customer_id, customer_key
    from {{ ref('int_customer_identity') }}
    where source_system = 'billing_customer'
),

charges as (
    select charge_id, invoice_id from {{ ref('stg_billing__charges') }}
),

refunds as (
    select
        coalesce(refunds.invoice_id, charges.invoice_id) as invoice_id,
        refunds.amount
    from {{ ref('stg_billing__refunds') }} as refunds
    left join charges
        on refunds.charge_id = charges.charge_id
    where refunds.refund_status = 'succeeded'
    {%- if keys is not none %}
        and coalesce(refunds.invoice_id, charges.invoice_id) = any({{ keys }})
    {%- endif %}
),

invoice_refunds as (
    select
        invoice_id,
        count(*) as refunds,
        sum(amount) as refunded_amount
    from refunds
    group by invoice_id
),

final as (
    select
        invoices.invoice_id,
        invoices.billing_customer_id,
        billing_identity.customer_key,
        invoices.created_at,
        {{ local_month('invoices.created_at') }} as month,
        invoices.currency_code,
        invoices.fx_rate_to_usd,
        invoices.fx_missing,
        invoices.amount_paid,
        -- a refund never takes back more than was paid
        least(coalesce(invoice_refunds.refunded_amount, 0), invoices.amount_paid) as refunded_amount,
        coalesce(invoice_refunds.refunds, 0)::integer as refunds,
        invoices.amount_paid_usd,
        round(
            least(coalesce(invoice_refunds.refunded_amount, 0), invoices.amount_paid) * invoices.fx_rate_to_usd, 2
        )::numeric(14, 2) as refunded_usd
    from invoices
    inner join billing_identity
        on invoices.billing_customer_id = billing_identity.billing_customer_id
    left join invoice_refunds
        on invoices.invoice_id = invoice_refunds.invoice_id
)

select
    invoice_id,
    billing_customer_id,
    customer_key,
    created_at,
    month,
    currency_code,
    fx_rate_to_usd,
    fx_missing,
    amount_paid,
    refunded_amount,
    refunds,
    amount_paid_usd,
    refunded_usd,
    (amount_paid_usd - refunded_usd)::numeric(14, 2) as net_revenue_usd
from final
