{#
    One row per health band: how often customers in the band churned the month after, pooled over every
    customer-month whose following month is fully in the data. The check that the health score means something:
    the churn rate should fall from at_risk to watch to healthy.
#}
with

health as (
    select * from {{ ref('fct_customer_health') }}
    where churned_next_month is not null
),

bands as (
    {{ health_bands() }}
),

-- each customer once per band, by hashing: count(distinct) in the aggregate below sorted every customer-month
-- of the history (13x the time for 10x the customers, 10k to 100k)
band_customers as (
    select health_band, count(*) as customers
    from (select distinct health_band, customer_key from health) as distinct_customers
    group by health_band
),

by_band as (
    select
        health.health_band,
        count(*) as customer_months,
        min(band_customers.customers) as customers,
        count(*) filter (where health.churned_next_month) as churned_next_month,
        avg(health.health_score) as mean_health_score,
        min(health.month) as first_month,
        max(health.month) as last_month
    from health
    inner join band_customers on health.health_band = band_customers.health_band
    group by health.health_band
),

overall as (
    select count(*) filter (where churned_next_month)::numeric / nullif(count(*), 0) as churn_rate
    from health
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
