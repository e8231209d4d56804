{{
    config(
        pre_hook="{{ assert_settled_margins_priced() }}",
    )
}}
{#
    One row per paying customer: what the customer has been worth so far and what the textbook formula says
    they will be worth over a lifetime.

    Historical LTV is the gross margin earned to date: each paid invoice's net revenue (paid less refunded, USD,
    int_invoices_netted) times the gross margin % of the invoice's month (int_gross_margin_monthly: (MRR − cost
    of revenue) ÷ MRR); a month without a margin uses the trailing-12-month margin below. With no margin at all
    (a business without subscriptions has no MRR to take one from) it is null, not 0: revenue was earned, its
    margin is unknown. int_customer_revenue keeps the sum over settled months (settled_margin_months, kept by
    customer); the invoices of the other months are priced here, a few of them in a daily run. The pre-hook
    (assert_settled_margins_priced) fails the build if int_customer_revenue priced at other margins than these.

    Formula LTV = ARPA × gross margin % ÷ monthly logo churn rate, docs/metrics.md's definition, with:
    - ARPA: the customer's own average month-end MRR over the months they were paying (USD);
    - gross margin %: the company's over the latest 12 months, Σ(MRR − cost of revenue) ÷ Σ MRR;
    - churn: the customer's segment's monthly logo churn pooled over the latest 12 complete months,
      Σ churned customers ÷ Σ customers at the start (fct_revenue_retention_monthly). Pooled, not the mean of
      monthly rates, so that small months do not swing it.
    - expected lifetime: 1 ÷ churn, capped at var ltv_max_lifetime_months (60): a segment that lost one customer
      in a year would be valued over decades on one event, and a segment that lost nobody for ever. The cap
      applies to zero churn too; a segment with no customers at the start has no rate, and no formula LTV.

    Length (208 lines, over the style's ~150): One model: historical and formula LTV share the customer's
    months, revenue, margin and segment churn; the long parts are the documented cap on expected lifetime, written
    out once per LTV column, and the historical LTV's two parts.
#}
{%- set max_lifetime = var('ltv_max_lifetime_months') | int %}
with

customers as (
    select * from {{ ref('int_customers_acquired') }}
),

revenue as (
    select * from {{ ref('int_customer_revenue') }}
),

invoices as (
    select * from {{ ref('int_invoices_netted') }}
),

customer_mrr as (
    select * from {{ ref('int_customer_mrr_monthly') }}
),

margins as (
    select * from {{ ref('int_gross_margin_monthly') }}
),

retention as (
    select * from {{ ref('fct_revenue_retention_monthly') }}
),

trailing_margin as (
    select
        round(sum(mrr_usd - cost_of_revenue_usd) / nullif(sum(mrr_usd), 0), 4) as gross_margin_pct
    from (
        select mrr_usd, cost_of_revenue_usd
        from margins
        order by month desc
        limit 12
    ) as latest_months
),

trailing_months as (
    select month from retention
    where not is_partial_month
    group by month
    order by month desc
    limit 12
),

trailing_churn as (
    select
        retention.segment,
        sum(retention.churned_customers) as churned_customers,
        sum(retention.customers_at_start) as customers_at_start,
        round(
            sum(retention.churned_customers)::numeric / nullif(sum(retention.customers_at_start), 0), 4
        ) as monthly_logo_churn_rate
    from retention
    inner join trailing_months
        on retention.month = trailing_months.month
    group by retention.segment
),

settled_margins as (
    {{ settled_margin_months() }}
),

unsettled_margin_earned as (
    -- the invoices int_customer_revenue did not price: of the latest month, of a month without a margin, undated
    select
        invoices.customer_key,
        sum(invoices.net_revenue_usd * coalesce(margins.gross_margin_pct, trailing_margin.gross_margin_pct))
            as margin_earned_usd
    from invoices
    cross join trailing_margin
    left join margins
        on invoices.month = margins.month
    where
        not exists (
            select from settled_margins
            where settled_margins.month = invoices.month
        )
    group by invoices.customer_key
),

customer_revenue as (
    select
        revenue.customer_key,
        revenue.lifetime_revenue_usd,
        -- null when no invoice has a margin, as a sum over the invoices would be
        (case
            when revenue.settled_margin_earned_usd is not null or unsettled_margin_earned.margin_earned_usd is not null
                then
                    coalesce(revenue.settled_margin_earned_usd, 0)
                    + coalesce(unsettled_margin_earned.margin_earned_usd, 0)
        end) as historical_ltv_usd,
        revenue.has_unconverted_invoices
    from revenue
    left join unsettled_margin_earned
        on revenue.customer_key = unsettled_margin_earned.customer_key
),

latest_month as (
    -- from the table's month index, not from customer_mrr: a second reading of that CTE would make PostgreSQL
    -- write all of it to disk first (96 MB, 0.4 s at 100,000 customers)
    select max(month) as month from {{ ref('int_customer_mrr_monthly') }}
),

customer_months as (
    select
        customer_mrr.customer_key,
        min(customer_mrr.segment) as segment,
        count(*) filter (where customer_mrr.is_active) as observed_lifetime_months,
        avg(customer_mrr.mrr) filter (where customer_mrr.is_active) as arpa_usd,
        bool_or(customer_mrr.is_active and customer_mrr.month = latest_month.month) as is_active
    from customer_mrr
    cross join latest_month
    group by customer_mrr.customer_key
),

final as (
    select
        customers.customer_key,
        coalesce(customer_months.segment, customers.segment, 'unknown') as segment,
        customers.acquisition_channel,
        customers.acquisition_month as cohort_month,
        case when customer_months.is_active then 'active' else 'churned' end as customer_status,
        coalesce(customer_months.observed_lifetime_months, 0)::integer as observed_lifetime_months,
        coalesce(customer_revenue.lifetime_revenue_usd, 0)::numeric(18, 2) as lifetime_revenue_usd,
        -- 0 without converted revenue, but null when no margin is known at all: unknown, not 0
        (case
            when customer_revenue.historical_ltv_usd is not null then round(customer_revenue.historical_ltv_usd, 2)
            when trailing_margin.gross_margin_pct is not null then 0
        end)::numeric(18, 2) as historical_ltv_usd,
        coalesce(customer_revenue.has_unconverted_invoices, false) as has_unconverted_invoices,
        round(customer_months.arpa_usd, 2)::numeric(14, 2) as arpa_usd,
        trailing_margin.gross_margin_pct::numeric(8, 4) as gross_margin_pct,
        trailing_churn.monthly_logo_churn_rate::numeric(8, 4) as monthly_logo_churn_rate,
        (case
            when trailing_churn.monthly_logo_churn_rate * {{ max_lifetime }} > 1
                then round(1 / trailing_churn.monthly_logo_churn_rate, 1)
            when trailing_churn.monthly_logo_churn_rate >= 0 then {{ max_lifetime }}
        end)::numeric(8, 1) as expected_lifetime_months,
        (case
            when trailing_churn.monthly_logo_churn_rate * {{ max_lifetime }} > 1
                then round(
                    round(customer_months.arpa_usd, 2) * trailing_margin.gross_margin_pct
                    / trailing_churn.monthly_logo_churn_rate, 2
                )
            when trailing_churn.monthly_logo_churn_rate >= 0
                then round(
                    round(customer_months.arpa_usd, 2) * trailing_margin.gross_margin_pct * {{ max_lifetime }}, 2
                )
        end)::numeric(14, 2) as formula_ltv_usd
    from customers
    cross join trailing_margin
    left join customer_months
        on customers.customer_key = customer_months.customer_key
    left join customer_revenue
        on customers.customer_key = customer_revenue.customer_key
    left join trailing_churn
        on coalesce(customer_months.segment, customers.segment, 'unknown') = trailing_churn.segment
)

select
    customer_key,
    segment,
    acquisition_channel,
    cohort_month,
    customer_status,
    observed_lifetime_months,
    lifetime_revenue_usd,
    historical_ltv_usd,
    has_unconverted_invoices,
    arpa_usd,
    gross_margin_pct,
    monthly_logo_churn_rate,
    expected_lifetime_months,
    formula_ltv_usd
from final
