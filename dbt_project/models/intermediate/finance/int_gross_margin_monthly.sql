{#
    One row per month: revenue (MRR at month end, USD), paying customers, ARPA, cost of revenue from the ledger
    and gross margin %. Revenue is MRR: recurring revenue normalised to the month, after discounts, without
    one-off charges and taxes (docs/metrics.md), the same measure ARPA is taken from, so payback's ARPA × margin is
    consistent. Months are those of int_customer_mrr_monthly; a month without ledger rows has 0 cost of revenue.
#}
with

customer_mrr as (
    select * from {{ ref('int_customer_mrr_monthly') }}
),

costs as (
    select * from {{ ref('int_costs_monthly') }}
),

revenue as (
    select
        month,
        sum(mrr) as mrr_usd,
        count(*) filter (where mrr > 0) as paying_customers
    from customer_mrr
    group by month
),

cost_of_revenue as (
    select
        month,
        sum(cost_usd) as cost_of_revenue_usd
    from costs
    where cost_category = 'cost_of_revenue'
    group by month
),

final as (
    select
        revenue.month,
        revenue.mrr_usd::numeric(18, 2) as mrr_usd,
        revenue.paying_customers::integer as paying_customers,
        (case
            when revenue.paying_customers > 0 then round(revenue.mrr_usd / revenue.paying_customers, 2)
        end)::numeric(14, 2) as arpa_usd,
        coalesce(cost_of_revenue.cost_of_revenue_usd, 0)::numeric(18, 2) as cost_of_revenue_usd,
        (case
            when revenue.mrr_usd > 0
                then round(
                    (revenue.mrr_usd - coalesce(cost_of_revenue.cost_of_revenue_usd, 0)) / revenue.mrr_usd, 4
                )
        end)::numeric(8, 4) as gross_margin_pct
    from revenue
    left join cost_of_revenue
        on revenue.month = cost_of_revenue.month
)

select * from final
