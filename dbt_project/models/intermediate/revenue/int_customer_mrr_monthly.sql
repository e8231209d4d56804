{{ config(pre_hook="{{ hash_joins_only() }}") }}
{#
    One row per customer and month: the customer's MRR at the month's last instant, in the reporting currency -
    the sum of its subscriptions' (int_subscription_mrr_monthly, which says how a subscription's MRR is found),
    over every billing customer identity resolution gives it.

    Months are int_revenue_months': calendar months of the reporting time zone, snapshot at the instant the
    month's last local day ends, or at the end of the data's last day in a partial last month. They run from the
    customer's first month with MRR > 0 through the data's last month, densely (0 after churn), so gaps and
    reactivations are visible. The customer's cohort month and plan segment are whole-customer facts, which is
    why this roll-up is rebuilt whole while the subscription months it sums are incremental.
#}

with

subscription_mrr as (
    select * from {{ ref('int_subscription_mrr_monthly') }}
),

months as (
    select * from {{ ref('int_revenue_months') }}
),

billing_identity as (
    select source_id as billing_customer_id, customer_key
    from {{ ref('int_customer_identity') }}
    where source_system = 'billing_customer'
),

customers_acquired as (
    select * from {{ ref('int_customers_acquired') }}
),

customer_subscription_mrr as (
    select
        billing_identity.customer_key,
        subscription_mrr.month,
        sum(subscription_mrr.mrr) as mrr,
        sum(subscription_mrr.list_mrr) as list_mrr,
        count(*) filter (where subscription_mrr.mrr > 0) as active_subscriptions,
        bool_or(subscription_mrr.fx_missing) as fx_missing,
        min(subscription_mrr.plan_segment) as plan_segment
    from subscription_mrr
    inner join billing_identity
        on subscription_mrr.billing_customer_id = billing_identity.billing_customer_id
    group by billing_identity.customer_key, subscription_mrr.month
),

customer_first_months as (
    select
        customer_key,
        min(month) as cohort_month,
        min(plan_segment) as plan_segment
    from customer_subscription_mrr
    where mrr > 0
    group by customer_key
),

customer_months as (
    select
        customer_first_months.customer_key,
        months.month,
        months.is_partial_month,
        customer_first_months.cohort_month,
        customer_first_months.plan_segment
    from customer_first_months
    inner join months
        on customer_first_months.cohort_month <= months.month
),

final as (
    select
        customer_months.customer_key,
        customer_months.month,
        coalesce(customer_subscription_mrr.mrr, 0)::numeric(14, 2) as mrr,
        coalesce(customer_subscription_mrr.list_mrr, 0)::numeric(14, 2) as list_mrr,
        coalesce(customer_subscription_mrr.mrr, 0) > 0 as is_active,
        coalesce(customer_subscription_mrr.active_subscriptions, 0)::integer as active_subscriptions,
        coalesce(customer_subscription_mrr.fx_missing, false) as fx_missing,
        coalesce(nullif(customers_acquired.segment, 'unknown'), customer_months.plan_segment, 'unknown')
            as segment,
        coalesce(customers_acquired.acquisition_channel, 'UNKNOWN') as acquisition_channel,
        customer_months.cohort_month,
        (
            (extract(year from customer_months.month) - extract(year from customer_months.cohort_month)) * 12
            + extract(month from customer_months.month) - extract(month from customer_months.cohort_month)
        )::integer as months_since_cohort,
        customer_months.is_partial_month
    from customer_months
    left join customer_subscription_mrr
        on
            customer_months.customer_key = customer_subscription_mrr.customer_key
            and customer_months.month = customer_subscription_mrr.month
    left join customers_acquired
        on customer_months.customer_key = customers_acquired.customer_key
)

select * from final
