{#
    One row per health band: how often customers in the band churned the month after, pooled over every
    customer-month whose following month is fully in the data. The check that the health score means something:
    the churn rate should fall from at_risk to watch to healthy.
#}
with

health as (
    select health_band, customer_key, month, churned_next_month, health_score
    from {{ ref('fct_customer_health') }}
    where churned_next_month is not null
),

bands as (
    {{ health_bands() }}
),

-- each customer's months in each band, from the one pass over the health rows: a band's customers are the count of
-- its groups (count(distinct) in one aggregate sorted every customer-month: 13x the time for 10x the customers),
-- and its figures and the overall rate are added up from theirs (docs/performance.md, "Churn by health band")
customer_band_months as (
    select
        health_band,
        customer_key,
        count(*) as customer_months,
        count(*) filter (where churned_next_month) as churned_next_month,
        sum(health_score) as health_score_total,
        count(health_score) as scored_months,
        min(month) as first_month,
        max(month) as last_month
    from health
    group by health_band, customer_key
),

by_band as (
    select
        health_band,
        sum(customer_months) as customer_months,
        count(*) as customers,
        sum(churned_next_month) as churned_next_month,
        sum(health_score_total) / nullif(sum(scored_months), 0) as mean_health_score,
        min(first_month) as first_month,
        max(last_month) as last_month
    from customer_band_months
    group by health_band
),

overall as (
    select sum(churned_next_month) / nullif(sum(customer_months), 0) as churn_rate
    from by_band
),

final as (
    select
        bands.health_band,
        bands.band_order,
        coalesce(by_band.customer_months, 0)::integer as customer_months,
        coalesce(by_band.customers, 0)::integer as customers,
        coalesce(by_band.churned_next_month, 0)::integer as churned_next_month,
        round(by_band.churned_next_month::numeric / nullif(by_band.customer_months, 0), 4)::numeric(8, 4)
            as churn_rate,
        round(
            by_band.churned_next_month::numeric / nullif(by_band.customer_months, 0) / nullif(overall.churn_rate, 0), 2
        )::numeric(8, 2) as churn_rate_vs_average,
        round(by_band.mean_health_score, 1)::numeric(5, 1) as mean_health_score,
        by_band.first_month,
        by_band.last_month
    from bands
    cross join overall
    left join by_band
        on bands.health_band = by_band.health_band
)

select
    health_band,
    band_order,
    customer_months,
    customers,
    churned_next_month,
    churn_rate,
    churn_rate_vs_average,
    mean_health_score,
    first_month,
    last_month
from final
