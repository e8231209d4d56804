-- The inputs of CAC, once: new customers, paid spend and sales & marketing cost per month, channel and segment.
-- Spend is known per channel and the ledger's cost per month only; both are split down to the row by its share
-- of new customers, to the cent, so summing the rows to any coarser grain gives back the source's own amount.

with

new_customers as (
    select
        acquisition_month as month,
        acquisition_channel as channel,
        segment,
        count(*) as new_customers
    from {{ ref('int_customers_acquired') }}
    group by 1, 2, 3
),

paid_spend as (
    select
        date_trunc('month', spend_date)::date as month,
        channel,
        sum(spend_amount) as spend
    from {{ ref('stg_crm__marketing_spend') }}
    group by 1, 2
),

sales_marketing_cost as (
    select
        month,
        sum(cost_usd) as cost
    from {{ ref('int_costs_monthly') }}
    where cost_category = 'acquisition'
    group by 1
),

-- A channel-month with spend but no new customer keeps its spend on segment 'unallocated'.
channel_segments as (
    select month, channel, segment, new_customers from new_customers
    union all
    select paid_spend.month, paid_spend.channel, 'unallocated' as segment, 0 as new_customers
    from paid_spend
    where not exists (
        select 1 from new_customers
        where new_customers.month = paid_spend.month and new_customers.channel = paid_spend.channel
    )
),

-- Running shares in channel order, then segment: a channel's rows are contiguous, so the channel's total share of
-- a month's cost is the same as a split over channels alone would give it.
shares as (
    select
        month,
        channel,
        segment,
        new_customers,
        sum(new_customers) over (partition by month, channel) as channel_new_customers,
        sum(new_customers) over (
            partition by month, channel order by segment rows unbounded preceding
        ) as channel_cumulative,
        sum(new_customers) over (partition by month) as month_new_customers,
        sum(new_customers) over (
            partition by month order by channel, segment rows unbounded preceding
        ) as month_cumulative
    from channel_segments
),

split as (
    select
        shares.month,
        shares.channel,
        shares.segment,
        shares.new_customers,
        case
            when shares.segment = 'unallocated' then coalesce(paid_spend.spend, 0)
            else {{ share_to_the_cent(
                'coalesce(paid_spend.spend, 0)', 'shares.new_customers', 'shares.channel_cumulative',
                'shares.channel_new_customers'
            ) }}
        end as paid_spend,
        {{ share_to_the_cent(
            'coalesce(cost.cost, 0)', 'shares.new_customers', 'shares.month_cumulative', 'shares.month_new_customers'
        ) }} as sales_marketing_cost
    from shares
    left join paid_spend
        on shares.month = paid_spend.month and shares.channel = paid_spend.channel
    left join sales_marketing_cost as cost
        on shares.month = cost.month
),

-- A ledger month with no new customer has nothing to split its cost by: the cost (zero too, so that the month is
-- still one of the inputs' months) stays on a row of its own.
unallocated_cost as (
    select
        cost.month,
        'UNALLOCATED' as channel,
        'unallocated' as segment,
        0 as new_customers,
        0 as paid_spend,
        cost.cost as sales_marketing_cost
    from sales_marketing_cost as cost
    where not exists (
        select 1 from new_customers
        where new_customers.month = cost.month
    )
),

input_rows as (
    select month, channel, segment, new_customers, paid_spend, sales_marketing_cost from split
    union all
    select month, channel, segment, new_customers, paid_spend, sales_marketing_cost from unallocated_cost
)

select
    month,
    channel,
    segment,
    new_customers::integer as new_customers,
    paid_spend::numeric(18, 2) as paid_spend,
    sales_marketing_cost::numeric(18, 2) as sales_marketing_cost
from input_rows
