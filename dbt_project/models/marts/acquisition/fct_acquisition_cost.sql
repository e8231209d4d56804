with

inputs as (
    select month, channel, new_customers, paid_spend, sales_marketing_cost
    from {{ ref('int_acquisition_inputs_monthly') }}
),

channel_inputs as (
    select
        month,
        channel,
        sum(paid_spend) as spend,
        sum(new_customers) as new_customers,
        sum(sales_marketing_cost) as allocated_sales_marketing_cost
    from inputs
    where channel <> 'UNALLOCATED'
    group by 1, 2
),

margins as (
    select month, arpa_usd, gross_margin_pct from {{ ref('int_gross_margin_monthly') }}
),

months as (
    {{ month_spine('select month from inputs') }}
),

channels as (
    select distinct channel from channel_inputs
),

-- Every channel in every month, zero-filled; a month's cost with no new customer to carry it stays on its
-- UNALLOCATED row (int_acquisition_inputs_monthly), so nothing is lost.
channel_costs as (
    select
        months.month,
        channels.channel,
        coalesce(channel_inputs.spend, 0) as spend,
        coalesce(channel_inputs.new_customers, 0) as new_customers,
        coalesce(channel_inputs.allocated_sales_marketing_cost, 0) as allocated_sales_marketing_cost
    from months
    cross join channels
    left join channel_inputs
        on months.month = channel_inputs.month and channels.channel = channel_inputs.channel
    union all
    select month, channel, paid_spend, new_customers, sales_marketing_cost
    from inputs
    where channel = 'UNALLOCATED' and sales_marketing_cost <> 0
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
