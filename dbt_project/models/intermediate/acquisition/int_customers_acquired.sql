{#
    One row per customer: when they first paid and through which channel they came.
    A customer is a CRM company with at least one paid invoice; billing customers without a CRM link are
    kept under their billing id with channel UNKNOWN, so they still count as new customers.
#}
with

billing_customers as (
    select * from {{ ref('stg_billing__customers') }}
),

companies as (
    select * from {{ ref('stg_crm__companies') }}
),

paid_invoices as (
    select billing_customer_id, created_at
    from {{ ref('stg_billing__invoices') }}
    where invoice_status = 'paid' and amount_paid > 0
),

first_payments as (
    select billing_customer_id, min(created_at) as first_paid_at
    from paid_invoices
    group by billing_customer_id
),

paying_accounts as (
    select
        case
            when companies.company_id is not null then 'crm:' || companies.company_id
            else 'billing:' || billing_customers.billing_customer_id
        end as customer_key,
        companies.company_id as crm_company_id,
        coalesce(companies.acquisition_channel, 'UNKNOWN') as acquisition_channel,
        coalesce(companies.segment, 'unknown') as segment,
        first_payments.first_paid_at
    from first_payments
    inner join billing_customers
        on first_payments.billing_customer_id = billing_customers.billing_customer_id
    left join companies
        on billing_customers.crm_company_id = companies.company_id
),

customers as (
    select
        customer_key,
        min(crm_company_id) as crm_company_id,
        min(acquisition_channel) as acquisition_channel,
        min(segment) as segment,
        min(first_paid_at) as acquired_at,
        date_trunc('month', min(first_paid_at))::date as acquisition_month
    from paying_accounts
    group by customer_key
)

select * from customers
