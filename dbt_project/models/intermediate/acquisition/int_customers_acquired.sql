{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        indexes=[{'columns': ['customer_key'], 'unique': True}],
        on_schema_change='sync_all_columns',
        pre_hook=["{{ serial_plan() }}", "{{ delete_keys_recomputed('customer_key', customers_acquired_keys()) }}"],
        post_hook=["{{ record_customers_acquired_changes() }}", "{{ record_incremental_state() }}"],
    )
}}
{#
    One row per customer: when they first paid and through which channel they came.
    A customer is a CRM company with at least one paid invoice. Billing customers are tied to CRM companies by
    int_customer_identity (explicit id, then contact email, then domain); those that match no company are kept
    under their billing id with channel UNKNOWN, so they still count as new customers (a business without a
    CRM has only these).

    A paid invoice counts when money was paid, or when it is a one-off purchase at $0: a free order is a
    purchase (int_purchases_netted), so its buyer is a customer, as CDNOW's published analysis counts them.
    A $0 subscription invoice (a trial, a fully discounted period) does not make a paying customer.

    Planned in one process (macros/serial_plan.sql): in parallel, every worker aggregated all the invoices.
    The post-hook notes which customers started or stopped paying or got another segment or channel
    (macros/row_changes.sql), for fct_product_input, kept incrementally by input.

    Incremental (macros/customers_acquired_incremental.sql): a daily run recomputes the customers whose invoices,
    billing customers or CRM company something new touched, and keeps the others.
#}
{%- set customers = customers_acquired_keys() %}
with

billing_identity as (
    select source_id as billing_customer_id, customer_key, crm_company_id
    from {{ ref('int_customer_identity') }}
    where source_system = 'billing_customer'
    {%- if customers is not none %}
        and customer_key = any({{ customers }})
    {%- endif %}
),

companies as (
    select * from {{ ref('stg_crm__companies') }}
    {%- if customers is not none %}
    where company_id in (select crm_company_id from billing_identity)
    {%- endif %}
),

paid_invoices as (
    select billing_customer_id, created_at
    from {{ ref('stg_billing__invoices') }}
    where invoice_status = 'paid' and (amount_paid > 0 or subscription_id is null)
    {%- if customers is not none %}
        and billing_customer_id::text in (select billing_customer_id from billing_identity)
    {%- endif %}
),

first_payments as (
    select billing_customer_id, min(created_at) as first_paid_at
    from paid_invoices
    group by billing_customer_id
),

paying_accounts as (
    select
        billing_identity.customer_key,
        first_payments.billing_customer_id,
        companies.company_id as crm_company_id,
        coalesce(companies.acquisition_channel, 'UNKNOWN') as acquisition_channel,
        coalesce(companies.segment, 'unknown') as segment,
        first_payments.first_paid_at
    from first_payments
    inner join billing_identity
        on first_payments.billing_customer_id::text = billing_identity.billing_customer_id
    left join companies
        on billing_identity.crm_company_id = companies.company_id
),

customers as (
    select
        customer_key,
        min(crm_company_id) as crm_company_id,
        min(acquisition_channel) as acquisition_channel,
        min(segment) as segment,
        min(first_paid_at) as acquired_at,
        (array_agg(billing_customer_id order by first_paid_at, billing_customer_id))[1] as first_billing_customer_id,
        {{ local_month('min(first_paid_at)') }} as acquisition_month
    from paying_accounts
    group by customer_key
)

select * from customers
