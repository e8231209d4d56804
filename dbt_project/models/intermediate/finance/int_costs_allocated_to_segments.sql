-- The month's costs that are booked per month, not per customer, shared out to segments (docs/metrics.md,
-- "Acquisition versus retention"): paid spend and the sales and marketing ledger by the month's new customers,
-- support by tickets, customer success by the customers active at the start of the month. Each pool's segments
-- add up to the pool to the cent; a pool with nothing to share it by in its month stays on segment 'unallocated'.

with

segments as (
    select * from (values ('smb'), ('mid_market'), ('enterprise'), ('unknown')) as known (segment)
),

costs as (
    select month, team, cost_category, cost_usd from {{ ref('int_costs_monthly') }}
),

acquisition_inputs as (
    select month, segment, new_customers, paid_spend, sales_marketing_cost
    from {{ ref('int_acquisition_inputs_monthly') }}
),

-- The months of the ledger and of ad spend (finance's reporting months).
months as (
    {{ month_spine("select month from costs union all select month from acquisition_inputs where paid_spend <> 0") }}
),

pools as (
    select month, 'paid_spend' as pool, sum(paid_spend) as amount from acquisition_inputs
    group by 1
    union all
    select month, 'sales_marketing' as pool, sum(sales_marketing_cost) as amount from acquisition_inputs
    group by 1
    union all
    select month, team as pool, sum(cost_usd) as amount from costs
    where team in ('support', 'customer_success')
    group by 1, 2
),

new_customers as (
    select month, segment, sum(new_customers) as new_customers
    from acquisition_inputs
    where new_customers > 0
    group by 1, 2
),

tickets as (
    select month, segment, tickets from {{ ref('int_segment_tickets_monthly') }}
),

drivers as (
    select month, segment, 'paid_spend' as pool, new_customers as driver from new_customers
    union all
    select month, segment, 'sales_marketing' as pool, new_customers as driver from new_customers
    union all
    select month, segment, 'support' as pool, tickets as driver from tickets
    union all
    select month, segment, 'customer_success' as pool, customers_at_start as driver
    from {{ ref('int_segment_customers_monthly') }}
),

driver_shares as (
    select
        months.month,
        segments.segment,
        pool_names.pool,
        coalesce(drivers.driver, 0) as driver,
        sum(coalesce(drivers.driver, 0)) over (partition by months.month, pool_names.pool) as pool_driver,
        sum(coalesce(drivers.driver, 0)) over (
            partition by months.month, pool_names.pool order by segments.segment rows unbounded preceding
        ) as cumulative_driver
    from months
    cross join segments
    cross join (values ('paid_spend'), ('sales_marketing'), ('support'), ('customer_success')) as pool_names (pool)
    left join drivers
        on months.month = drivers.month and segments.segment = drivers.segment and pool_names.pool = drivers.pool
),

allocated as (
    select
        driver_shares.month,
        driver_shares.segment,
        driver_shares.pool,
        {{ share_to_the_cent(
            'coalesce(pools.amount, 0)', 'driver_shares.driver', 'driver_shares.cumulative_driver',
            'driver_shares.pool_driver'
        ) }} as amount
    from driver_shares
    left join pools
        on driver_shares.month = pools.month and driver_shares.pool = pools.pool
    union all
    select
        pools.month,
        'unallocated' as segment,
        pools.pool,
        pools.amount
    from pools
    where
        pools.amount <> 0
        and not exists (
            select 1 from driver_shares
            where
                driver_shares.month = pools.month
                and driver_shares.pool = pools.pool
                and driver_shares.pool_driver > 0
        )
)

select
    month,
    segment,
    (coalesce(sum(amount) filter (where pool = 'paid_spend'), 0))::numeric(18, 2) as paid_spend,
    (coalesce(sum(amount) filter (where pool = 'sales_marketing'), 0))::numeric(18, 2) as sales_marketing_cost,
    (coalesce(sum(amount) filter (where pool = 'support'), 0))::numeric(18, 2) as support_cost,
    (coalesce(sum(amount) filter (where pool = 'customer_success'), 0))::numeric(18, 2) as customer_success_cost
from allocated
group by 1, 2
