{#
    One row per cohort month (first paid month) and acquisition channel that won at least one customer: the
    customers' lifetime value, historical and by formula, summed and per customer. Built from
    fct_customer_lifetime_value, so every definition (net revenue, margin, ARPA, churn) is the one there.
    Formula LTV per customer is the mean of the cohort's customers' formula LTVs, over the customers that
    have one (a segment with no churn in the trailing 12 months has none). Historical LTV is null where the
    customers' is (no gross margin known).
#}
with

customer_ltv as (
    select * from {{ ref('fct_customer_lifetime_value') }}
),

final as (
    select
        cohort_month,
        acquisition_channel,
        count(*)::integer as customers,
        count(*) filter (where customer_status = 'active')::integer as active_customers,
        sum(lifetime_revenue_usd)::numeric(18, 2) as lifetime_revenue_usd,
        sum(historical_ltv_usd)::numeric(18, 2) as historical_ltv_usd,
        round(sum(historical_ltv_usd) / count(*), 2)::numeric(14, 2) as historical_ltv_per_customer_usd,
        round(avg(arpa_usd), 2)::numeric(14, 2) as arpa_usd,
        max(gross_margin_pct)::numeric(8, 4) as gross_margin_pct,
        count(formula_ltv_usd)::integer as customers_with_formula_ltv,
        round(avg(formula_ltv_usd), 2)::numeric(14, 2) as formula_ltv_per_customer_usd
    from customer_ltv
    group by cohort_month, acquisition_channel
)

select
    cohort_month,
    acquisition_channel,
    customers,
    active_customers,
    lifetime_revenue_usd,
    historical_ltv_usd,
    historical_ltv_per_customer_usd,
    arpa_usd,
    gross_margin_pct,
    customers_with_formula_ltv,
    formula_ltv_per_customer_usd
from final
