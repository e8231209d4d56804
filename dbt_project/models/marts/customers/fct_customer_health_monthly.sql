{#
    One row per month, segment and health band, plus segment = 'all' for the whole book: how many paying
    customers and how much MRR sit in each band, and what the band's warning signs add up to.

    A dashboard's band chart sums a whole month of fct_customer_health, one row per paying customer, which at a
    million customers reads a million rows however it is indexed (docs/performance.md). Summed once here, the
    same chart reads three rows. Every band appears in every month a segment has customers, empty bands as 0,
    so a band that empties shows as 0 rather than as a missing bar.
#}
with

health as (
    select * from {{ ref('fct_customer_health') }}
),

bands as (
    {{ health_bands() }}
),

by_segment as (
    select
        month,
        segment,
        health_band,
        count(*) as customers,
        sum(mrr_usd) as mrr_usd,
        sum(tickets_opened) as tickets_opened,
        sum(sla_breached_tickets) as sla_breached_tickets,
        sum(failed_charges) as failed_charges,
        count(*) filter (where latest_nps_category = 'detractor') as detractor_customers,
        count(*) filter (where churned_next_month) as churned_next_month,
        count(*) filter (where churned_next_month is not null) as customers_with_known_next_month
    from health
    group by month, segment, health_band
),

whole_book as (
    select
        month,
        'all' as segment,
        health_band,
        sum(customers) as customers,
        sum(mrr_usd) as mrr_usd,
        sum(tickets_opened) as tickets_opened,
        sum(sla_breached_tickets) as sla_breached_tickets,
        sum(failed_charges) as failed_charges,
        sum(detractor_customers) as detractor_customers,
        sum(churned_next_month) as churned_next_month,
        sum(customers_with_known_next_month) as customers_with_known_next_month
    from by_segment
    group by month, health_band
),

sums as (
    select * from by_segment
    union all
    select * from whole_book
),

-- every band of every month and segment that has a customer, empty bands included
grid as (
    select distinct sums.month, sums.segment, bands.health_band, bands.band_order
    from sums
    cross join bands
),

final as (
    select
        grid.month,
        grid.segment,
        grid.health_band,
        grid.band_order,
        coalesce(sums.customers, 0)::integer as customers,
        coalesce(sums.mrr_usd, 0)::numeric(18, 2) as mrr_usd,
        coalesce(sums.tickets_opened, 0)::integer as tickets_opened,
        coalesce(sums.sla_breached_tickets, 0)::integer as sla_breached_tickets,
        coalesce(sums.failed_charges, 0)::integer as failed_charges,
        coalesce(sums.detractor_customers, 0)::integer as detractor_customers,
        -- null while the next month is not fully in the data (fct_customer_health.churned_next_month)
        case when sums.customers_with_known_next_month > 0 then sums.churned_next_month end::integer
            as churned_next_month,
        round(sums.churned_next_month::numeric / nullif(sums.customers_with_known_next_month, 0), 4)::numeric(8, 4)
            as churn_rate_next_month
    from grid
    left join sums
        on
            grid.month = sums.month
            and grid.segment = sums.segment
            and grid.health_band = sums.health_band
)

select
    month,
    segment,
    health_band,
    band_order,
    customers,
    mrr_usd,
    tickets_opened,
    sla_breached_tickets,
    failed_charges,
    detractor_customers,
    churned_next_month,
    churn_rate_next_month
from final
order by month, segment, band_order
