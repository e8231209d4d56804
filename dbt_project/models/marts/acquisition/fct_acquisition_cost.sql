with

monthly_spend as (
    select
        date_trunc('month', spend_date)::date as month,
        channel,
        sum(spend_amount) as spend
    from {{ ref('stg_crm__marketing_spend') }}
    group by 1, 2
),

monthly_new_customers as (
    select
        acquisition_month as month,
        acquisition_channel as channel,
        count(*) as new_customers
    from {{ ref('int_customers_acquired') }}
    group by 1, 2
),

monthly_sales_marketing_cost as (
    select
        month,
        sum(cost_usd) as sales_marketing_cost
    from {{ ref('int_costs_monthly') }}
    where cost_category = 'acquisition'
    group by 1
),

margins as (
    select month, arpa_usd, gross_margin_pct from {{ ref('int_gross_margin_monthly') }}
),

activity as (
    select month, channel from monthly_spend
    union
    select month, channel from monthly_new_customers
),

months as (
    {{ month_spine('select month from activity union all select month from monthly_sales_marketing_cost') }}
),

channels as (
    select distinct channel from activity
),

month_channel_grid as (
    select months.month, channels.channel
    from months
    cross join channels
),

channel_months as (
    select
        grid.month,
        grid.channel,
        coalesce(monthly_spend.spend, 0) as spend,
        coalesce(monthly_new_customers.new_customers, 0) as new_customers
    from month_channel_grid as grid
    left join monthly_spend
        on grid.month = monthly_spend.month and grid.channel = monthly_spend.channel
    left join monthly_new_customers
        on grid.month = monthly_new_customers.month and grid.channel = monthly_new_customers.channel
),

-- Each channel's cumulative share of the month's new customers, in channel order: allocating the difference of
-- the rounded cumulative amounts makes the channels' cents add up to the month's ledger cost exactly.
customer_shares as (
    select
        month,
        channel,
        spend,
        new_customers,
        sum(new_customers) over (partition by month) as month_new_customers,
        sum(new_customers) over (partition by month order by channel rows unbounded preceding) as cumulative_customers
    from channel_months
),

allocated as (
    select
        customer_shares.month,
        customer_shares.channel,
        customer_shares.spend,
        customer_shares.new_customers,
        case
            when customer_shares.month_new_customers > 0
                then round(
                    coalesce(cost.sales_marketing_cost, 0) * customer_shares.cumulative_customers
                    / customer_shares.month_new_customers, 2
                )
                - round(
                    coalesce(cost.sales_marketing_cost, 0)
                    * (customer_shares.cumulative_customers - customer_shares.new_customers)
                    / customer_shares.month_new_customers, 2
                )
            else 0
        end as allocated_sales_marketing_cost
    from customer_shares
    left join monthly_sales_marketing_cost as cost
        on customer_shares.month = cost.month
),

-- A month with ledger cost but no new customer has nothing to allocate to: its cost stays visible on a row of
-- its own rather than being lost.
unallocated as (
    select
        months.month,
        'UNALLOCATED' as channel,
        0 as spend,
        0 as new_customers,
        cost.sales_marketing_cost as allocated_sales_marketing_cost
    from months
    inner join monthly_sales_marketing_cost as cost
        on months.month = cost.month
    where
        cost.sales_marketing_cost <> 0
        and not exists (
            select 1 from monthly_new_customers
            where monthly_new_customers.month = months.month and monthly_new_customers.new_customers > 0
        )
),

channel_costs as (
    select month, channel, spend, new_customers, allocated_sales_marketing_cost from allocated
    union all
    select month, channel, spend, new_customers, allocated_sales_marketing_cost from unallocated
),

final as (
    select
        channel_costs.month,
        channel_costs.channel,
        channel_costs.spend::numeric(14, 2) as spend,
        channel_costs.allocated_sales_marketing_cost::numeric(14, 2) as allocated_sales_marketing_cost,
        channel_costs.new_customers::integer as new_customers,
        (case
            when channel_costs.new_customers > 0
                then round(channel_costs.spend / channel_costs.new_customers, 2)
        end)::numeric(14, 2) as cac,
        (case
            when channel_costs.new_customers > 0
                then round(
                    (channel_costs.spend + channel_costs.allocated_sales_marketing_cost)
                    / channel_costs.new_customers, 2
                )
        end)::numeric(14, 2) as blended_cac,
        (case
            when channel_costs.new_customers > 0 and margins.arpa_usd * margins.gross_margin_pct > 0
                then round(
                    (channel_costs.spend + channel_costs.allocated_sales_marketing_cost)
                    / channel_costs.new_customers / (margins.arpa_usd * margins.gross_margin_pct), 1
                )
        end)::numeric(8, 1) as blended_cac_payback_months
    from channel_costs
    left join margins
        on channel_costs.month = margins.month
)

select
    month,
    channel,
    spend,
    allocated_sales_marketing_cost,
    new_customers,
    cac,
    blended_cac,
    blended_cac_payback_months
from final
