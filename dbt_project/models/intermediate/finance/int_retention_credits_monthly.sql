-- Retention cost that belongs to a customer, per month and segment: save-offer discounts (a retention coupon's
-- discount on an issued, open or paid, invoice, in the invoice's month) and service credits (goodwill credit
-- notes, refunds excluded, at the FX rate of the invoice they credit). Billing customers that identity matched
-- to no acquired customer count under 'unknown'.

with

customers as (
    select customer_key, segment from {{ ref('int_customers_acquired') }}
),

billing_segments as (
    select identity.source_id as billing_customer_id, coalesce(customers.segment, 'unknown') as segment
    from {{ ref('int_customer_identity') }} as identity
    left join customers
        on identity.customer_key = customers.customer_key
    where identity.source_system = 'billing_customer'
),

retention_discounts as (
    select
        {{ local_month('invoices.created_at') }} as month,
        coalesce(billing_segments.segment, 'unknown') as segment,
        sum(invoices.discount_amount_usd) as amount
    from {{ ref('int_invoices_converted') }} as invoices
    inner join {{ ref('stg_billing__coupons') }} as coupons
        on invoices.coupon_id = coupons.coupon_id
    left join billing_segments
        on invoices.billing_customer_id::text = billing_segments.billing_customer_id
    where coupons.is_retention_offer and invoices.invoice_status in ('open', 'paid')
    group by 1, 2
),

service_credits as (
    select
        {{ local_month('credit_notes.created_at') }} as month,
        coalesce(billing_segments.segment, 'unknown') as segment,
        sum(round(credit_notes.amount * invoices.fx_rate_to_usd, 2)) as amount
    from {{ ref('stg_billing__credit_notes') }} as credit_notes
    inner join {{ ref('int_invoices_converted') }} as invoices
        on credit_notes.invoice_id = invoices.invoice_id
    left join billing_segments
        on credit_notes.billing_customer_id::text = billing_segments.billing_customer_id
    where credit_notes.credit_note_purpose = 'service_credit' and credit_notes.credit_note_status = 'issued'
    group by 1, 2
)

select
    coalesce(retention_discounts.month, service_credits.month) as month,
    coalesce(retention_discounts.segment, service_credits.segment) as segment,
    coalesce(retention_discounts.amount, 0)::numeric(18, 2) as retention_discounts,
    coalesce(service_credits.amount, 0)::numeric(18, 2) as service_credits
from retention_discounts
full outer join service_credits
    on retention_discounts.month = service_credits.month and retention_discounts.segment = service_credits.segment
