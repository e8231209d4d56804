{#
    One row per one-off purchase: a paid Stripe invoice with no subscription (add-ons, usage credits), tied to
    its customer, net of refunds in USD. These are the transactions the predictive LTV models read
    (docs/ltv.md, "Which transactions"): subscription renewals are contractual - the customer says when they
    leave, and they renew on a fixed cycle - so they break BG/NBD's assumptions and are valued by the formula
    LTV instead. A purchase refunded in full is no purchase; an invoice in a currency without an FX rate has
    no USD amount and is left out.
#}
with

invoices_netted as (
    select * from {{ ref('int_invoices_netted') }}
),

invoices as (
    select invoice_id, subscription_id from {{ ref('stg_billing__invoices') }}
),

final as (
    select
        invoices_netted.invoice_id,
        invoices_netted.customer_key,
        invoices_netted.created_at,
        {{ local_date('invoices_netted.created_at') }} as purchased_on,
        invoices_netted.net_revenue_usd as amount_usd
    from invoices_netted
    inner join invoices
        on invoices_netted.invoice_id = invoices.invoice_id
    where
        invoices.subscription_id is null
        and not invoices_netted.fx_missing
        and invoices_netted.net_revenue_usd > 0
)

select
    invoice_id,
    customer_key,
    created_at,
    purchased_on,
    amount_usd
from final
