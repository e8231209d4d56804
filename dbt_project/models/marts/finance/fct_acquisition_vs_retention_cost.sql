-- What it cost to win a customer against what it cost to keep one, per month and segment, and for the month as a
-- whole (segment 'all'). The shares of month-level costs come from int_costs_allocated_to_segments.

with

allocated_costs as (
    select month, segment, paid_spend, sales_marketing_cost, support_cost, customer_success_cost
    from {{ ref('int_costs_allocated_to_segments') }}
),

new_customers as (
    select month, segment, sum(new_customers) as new_customers
    from {{ ref('int_acquisition_inputs_monthly') }}
    group by 1, 2
),

segment_customers as (
    select month, segment, customers_retained from {{ ref('int_segment_customers_monthly') }}
),

retention_credits as (
    select month, segment, retention_discounts, service_credits from {{ ref('int_retention_credits_monthly') }}
),

-- One row per month and segment of the allocation (every known segment in every reporting month, and
-- 'unallocated' where a cost had nothing to be shared by).
segment_rows as (
    select
        allocated_costs.month,
        allocated_costs.segment,
        allocated_costs.paid_spend,
        allocated_costs.sales_marketing_cost,
        coalesce(new_customers.new_customers, 0) as new_customers,
        allocated_costs.support_cost,
        allocated_costs.customer_success_cost,
        coalesce(retention_credits.retention_discounts, 0) as retention_discounts,
        coalesce(retention_credits.service_credits, 0) as service_credits,
        coalesce(segment_customers.customers_retained, 0) as customers_retained
    from allocated_costs
    left join new_customers
        on allocated_costs.month = new_customers.month and allocated_costs.segment = new_customers.segment
    left join retention_credits
        on allocated_costs.month = retention_credits.month and allocated_costs.segment = retention_credits.segment
    left join segment_customers
        on allocated_costs.month = segment_customers.month and allocated_costs.segment = segment_customers.segment
),

all_rows as (
    select
        month,
        'all' as segment,
        sum(paid_spend) as paid_spend,
        sum(sales_marketing_cost) as sales_marketing_cost,
        sum(new_customers) as new_customers,
        sum(support_cost) as support_cost,
        sum(customer_success_cost) as customer_success_cost,
        sum(retention_discounts) as retention_discounts,
        sum(service_credits) as service_credits,
        sum(customers_retained) as customers_retained
    from segment_rows
    group by 1
),

combined as (
    select
        month, segment, paid_spend, sales_marketing_cost, new_customers, support_cost, customer_success_cost,
        retention_discounts, service_credits, customers_retained
    from segment_rows
    union all
    select
        month, segment, paid_spend, sales_marketing_cost, new_customers, support_cost, customer_success_cost,
        retention_discounts, service_credits, customers_retained
    from all_rows
),

measured as (
    select
        month, segment, paid_spend, sales_marketing_cost, new_customers, support_cost, customer_success_cost,
        retention_discounts, service_credits, customers_retained,
        paid_spend + sales_marketing_cost as acquisition_cost,
        support_cost + customer_success_cost + retention_discounts + service_credits as retention_cost,
        case when new_customers > 0 then (paid_spend + sales_marketing_cost) / new_customers end as cac,
        case
            when customers_retained > 0
                then
                    (support_cost + customer_success_cost + retention_discounts + service_credits)
                    / customers_retained
        end as cost_to_retain
    from combined
),

final as (
    select
        month,
        segment,
        paid_spend::numeric(18, 2) as paid_spend,
        sales_marketing_cost::numeric(18, 2) as sales_marketing_cost,
        acquisition_cost::numeric(18, 2) as acquisition_cost,
        new_customers::integer as new_customers,
        round(cac, 2)::numeric(14, 2) as cac,
        support_cost::numeric(18, 2) as support_cost,
        customer_success_cost::numeric(18, 2) as customer_success_cost,
        retention_discounts::numeric(18, 2) as retention_discounts,
        service_credits::numeric(18, 2) as service_credits,
        retention_cost::numeric(18, 2) as retention_cost,
        customers_retained::integer as customers_retained,
        round(cost_to_retain, 2)::numeric(14, 2) as cost_to_retain,
        (case when cost_to_retain > 0 then round(cac / cost_to_retain, 2) end)::numeric(10, 2)
            as acquisition_to_retention_cost_ratio
    from measured
)

select
    month,
    segment,
    paid_spend,
    sales_marketing_cost,
    acquisition_cost,
    new_customers,
    cac,
    support_cost,
    customer_success_cost,
    retention_discounts,
    service_credits,
    retention_cost,
    customers_retained,
    cost_to_retain,
    acquisition_to_retention_cost_ratio
from final
