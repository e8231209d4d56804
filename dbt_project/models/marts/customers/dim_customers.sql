{#
    One row per paying customer (customer_key): who they are in every system, where they came from, whether they
    still pay, what they have paid, what they last said and how healthy they look now.

    A customer is a CRM company (or an unmatched billing customer) with at least one paid invoice
    (int_customers_acquired). Ids from the other systems are the ones int_customer_identity ties to the key, as
    arrays (a company may hold several billing customers or help-desk organizations); the primary billing customer
    is the one that paid first. Status is active when MRR > 0 at the latest month-end of the data, else churned.

    A business without subscriptions (one-off purchases only) has no MRR at all: int_customer_mrr_monthly is
    empty, so every customer has MRR 0 and is churned by that definition, with no churned_month (they never
    had MRR to lose); the month described is then the month of the latest invoice. Whether such a
    customer is still around is fct_predicted_ltv's probability_alive, not a status.

    Length (168 lines, over the style's ~150): One model: a dimension gathers one or two columns from each of
    many sources (identity, acquisition, MRR, revenue, voice, health); each source is one short CTE, and the
    length is their number.
#}
with

customers as (
    select * from {{ ref('int_customers_acquired') }}
),

companies as (
    select company_id, company_name from {{ ref('stg_crm__companies') }}
),

identity as not materialized (
    select * from {{ ref('int_customer_identity') }}
    where customer_key is not null
),

billing_ids as (
    select customer_key, array_agg(source_id order by source_id) as billing_customer_ids
    from identity
    where source_system = 'billing_customer'
    group by customer_key
),

support_ids as (
    select customer_key, array_agg(source_id::bigint order by source_id::bigint) as support_organization_ids
    from identity
    where source_system = 'support_organization'
    group by customer_key
),

revenue as (
    -- what each customer paid and who paid first, kept by customer (int_customer_revenue)
    select * from {{ ref('int_customer_revenue') }}
),

customer_mrr as not materialized (
    select * from {{ ref('int_customer_mrr_monthly') }}
),

mrr_as_of as (
    -- int_customer_mrr_monthly's last month; without any subscription it has none, and the month-end described
    -- (MRR 0 for everyone) is that of the latest invoice's month
    select coalesce(
        (select max(month) from customer_mrr),
        (select {{ local_month('max(created_at)') }} from {{ ref('int_invoices_converted') }})
    ) as month
),

latest_mrr as (
    select customer_mrr.customer_key, customer_mrr.month, customer_mrr.mrr, customer_mrr.segment
    from customer_mrr
    inner join mrr_as_of
        on customer_mrr.month = mrr_as_of.month
),

last_churn as (
    select customer_key, max(month) as churned_month
    from {{ ref('fct_mrr_movements') }}
    where movement_type = 'churn'
    group by customer_key
),

latest_nps as (
    select distinct on (customer_key)
        customer_key,
        nps_score,
        nps_category,
        submitted_at
    from {{ ref('fct_survey_responses') }}
    where survey_type = 'nps' and is_nps_answered and customer_key is not null
    order by customer_key asc, submitted_at desc, response_id desc
),

current_health as (
    select health.customer_key, health.health_score, health.health_band
    from {{ ref('fct_customer_health') }} as health
    inner join latest_mrr
        on health.customer_key = latest_mrr.customer_key and health.month = latest_mrr.month
    -- every latest_mrr row is of that month: the month's health rows only, not all 1.1 million at 100,000 customers
    where health.month = (select mrr_as_of.month from mrr_as_of)
),

final as (
    select
        customers.customer_key,
        customers.crm_company_id,
        companies.company_name,
        -- a customer whose purchases were all $0 has no invoice with money on it: their first purchase's
        coalesce(revenue.first_billing_customer_id, customers.first_billing_customer_id)
            as primary_billing_customer_id,
        coalesce(billing_ids.billing_customer_ids, array[]::text[]) as billing_customer_ids,
        coalesce(support_ids.support_organization_ids, array[]::bigint[]) as support_organization_ids,
        customers.acquisition_channel,
        customers.acquired_at,
        customers.acquisition_month as cohort_month,
        coalesce(latest_mrr.segment, customers.segment, 'unknown') as segment,
        case when latest_mrr.mrr > 0 then 'active' else 'churned' end as customer_status,
        case when coalesce(latest_mrr.mrr, 0) = 0 then last_churn.churned_month end as churned_month,
        coalesce(latest_mrr.mrr, 0)::numeric(14, 2) as current_mrr_usd,
        (select mrr_as_of.month from mrr_as_of) as mrr_as_of_month,
        coalesce(revenue.paid_invoices, 0)::integer as paid_invoices,
        coalesce(revenue.lifetime_revenue_usd, 0)::numeric(18, 2) as lifetime_revenue_usd,
        coalesce(revenue.lifetime_refunds_usd, 0)::numeric(18, 2) as lifetime_refunds_usd,
        coalesce(revenue.has_unconverted_invoices, false) as has_unconverted_invoices,
        latest_nps.nps_score as latest_nps_score,
        latest_nps.nps_category as latest_nps_category,
        latest_nps.submitted_at as latest_nps_at,
        current_health.health_score,
        current_health.health_band
    from customers
    left join companies
        on customers.crm_company_id = companies.company_id
    left join billing_ids
        on customers.customer_key = billing_ids.customer_key
    left join support_ids
        on customers.customer_key = support_ids.customer_key
    left join revenue
        on customers.customer_key = revenue.customer_key
    left join latest_mrr
        on customers.customer_key = latest_mrr.customer_key
    left join last_churn
        on customers.customer_key = last_churn.customer_key
    left join latest_nps
        on customers.customer_key = latest_nps.customer_key
    left join current_health
        on customers.customer_key = current_health.customer_key
)

select
    customer_key,
    crm_company_id,
    company_name,
    primary_billing_customer_id,
    billing_customer_ids,
    support_organization_ids,
    acquisition_channel,
    acquired_at,
    cohort_month,
    segment,
    customer_status,
    churned_month,
    current_mrr_usd,
    mrr_as_of_month,
    paid_invoices,
    lifetime_revenue_usd,
    lifetime_refunds_usd,
    has_unconverted_invoices,
    latest_nps_score,
    latest_nps_category,
    latest_nps_at,
    health_score,
    health_band
from final
