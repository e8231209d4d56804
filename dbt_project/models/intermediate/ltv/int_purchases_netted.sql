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
    One row per one-off purchase: a paid Stripe invoice with no subscription (add-ons, usage credits, a shop's
    orders), tied to its customer, net of refunds in USD. These are the transactions the predictive LTV models
    read (docs/ltv.md, "Which transactions"): subscription renewals are contractual - the customer says when
    they leave, and they renew on a fixed cycle - so they break BG/NBD's assumptions and are valued by the
    formula LTV instead.

    A purchase of $0 (a free order, a 100% coupon) is still a purchase: the customer came back and bought, which
    is all BG/NBD counts; the published CDNOW fit counts its $0 purchases too. Only the spend model leaves it
    out (int_customers_summarised). A purchase refunded in full is no purchase: the order was undone (returned,
    cancelled, charged twice, fraudulent) and nothing was bought, so counting it would credit a visit that the
    revenue marts already net to nothing. A partly refunded purchase counts at what was kept. An invoice in a
    currency without an FX rate has no USD amount and is left out.

    int_invoices_netted holds paid invoices with money on them only (its grain for revenue), so the $0 ones are
    read from int_invoices_converted here.

    Incremental (macros/invoices_netted_incremental.sql): a daily run recomputes the invoices something new
    touched, by int_invoices_netted's rules, and keeps the others. Indexed on customer_key too (a post-hook, so
    that a warehouse built before it gets it): int_customer_purchase_history reads the purchases of the customers
    it recomputes.
#}
{%- set keys = invoices_netted_keys() %}
with

one_off_invoices as (
    select invoice_id, billing_customer_id, created_at, amount_paid, amount_paid_usd, fx_missing
    from {{ ref('int_invoices_converted') }}
    where invoice_status = 'paid' and subscription_id is null
    {%- if keys is not none %}
        and invoice_id = any({{ keys }})
    {%- endif %}
),

invoices_netted as (
    select invoice_id, net_revenue_usd from {{ ref('int_invoices_netted') }}
),

billing_identity as (
    select source_id as billing_customer_id, customer_key
    from {{ ref('int_customer_identity') }}
    where source_system = 'billing_customer'
),

purchases as (
    select
        one_off_invoices.invoice_id,
        billing_identity.customer_key,
        one_off_invoices.created_at,
        {{ local_date('one_off_invoices.created_at') }} as purchased_on,
        -- a $0 invoice is not in int_invoices_netted (nothing paid, nothing to refund)
        coalesce(invoices_netted.net_revenue_usd, one_off_invoices.amount_paid_usd) as amount_usd,
        one_off_invoices.amount_paid = 0 as is_free
    from one_off_invoices
    inner join billing_identity
        on one_off_invoices.billing_customer_id = billing_identity.billing_customer_id
    left join invoices_netted
        on one_off_invoices.invoice_id = invoices_netted.invoice_id
    where not one_off_invoices.fx_missing
),

final as (
    select invoice_id, customer_key, created_at, purchased_on, amount_usd
    from purchases
    -- $0 orders stay; orders that were paid and then refunded in full go
    where is_free or amount_usd > 0
)

select
    invoice_id,
    customer_key,
    created_at,
    purchased_on,
    amount_usd
from final
