with

segments as (
    select * from (values ('smb'), ('mid_market'), ('enterprise'), ('unknown')) as known (segment)
),

customers as (
    select customer_key, segment from {{ ref('int_customers_acquired') }}
),

identity as (
    select source_system, source_id, customer_key from {{ ref('int_customer_identity') }}
),

costs as (
    select * from {{ ref('int_costs_monthly') }}
),

customer_mrr as (
    select customer_key, month, mrr from {{ ref('int_customer_mrr_monthly') }}
),

paid_spend_days as (
    select spend_date, spend_amount from {{ ref('stg_crm__marketing_spend') }}
),

-- The months of the ledger and of ad spend (finance's reporting months); MRR only tells who was active when.
months as (
    {{ month_spine(
        "select month from costs union all select date_trunc('month', spend_date)::date from paid_spend_days"
    ) }}
),

-- acquisition --------------------------------------------------------------------------------------------------
monthly_paid_spend as (
    select date_trunc('month', spend_date)::date as month, sum(spend_amount) as amount
    from paid_spend_days
    group by 1
),

new_customers as (
    select acquisition_month as month, segment, count(*) as new_customers
    from {{ ref('int_customers_acquired') }}
    group by 1, 2
),

-- retention ----------------------------------------------------------------------------------------------------
tickets as (
    select ticket_month as month, segment, count(*) as tickets
    from {{ ref('int_tickets_segmented') }}
    group by 1, 2
),

customer_months as (
    select
        this_month.month,
        coalesce(customers.segment, 'unknown') as segment,
        coalesce(previous_month.mrr, 0) > 0 as active_at_start,
        coalesce(previous_month.mrr, 0) > 0 and this_month.mrr > 0 as retained
    from customer_mrr as this_month
    left join customer_mrr as previous_month
        on this_month.customer_key = previous_month.customer_key
        and previous_month.month = (this_month.month - interval '1 month')::date
    left join customers
        on this_month.customer_key = customers.customer_key
),

customer_counts as (
    select
        month,
        segment,
        count(*) filter (where active_at_start) as customers_at_start,
        count(*) filter (where retained) as customers_retained
    from customer_months
    group by 1, 2
),

billing_segments as (
    select identity.source_id as billing_customer_id, coalesce(customers.segment, 'unknown') as segment
    from identity
    left join customers
        on identity.customer_key = customers.customer_key
    where identity.source_system = 'billing_customer'
),

-- Save offers: the discount a retention coupon takes off an issued (open or paid) invoice, in the invoice's month.
retention_discounts as (
    select
        {{ local_month('invoices.created_at') }} as month,
        coalesce(billing_segments.segment, 'unknown') as segment,
        sum(invoices.discount_amount_usd) as amount
    from {{ ref('int_invoices_converted') }} as invoices
    inner join {{ ref('stg_billing__coupons') }} as coupons
        on invoices.coupon_id = coupons.coupon_id
    left join billing_segments
        on invoices.billing_customer_id::text = billing_segments.billing_customer_id
    where coupons.is_retention_offer and invoices.invoice_status in ('open', 'paid')
    group by 1, 2
),

-- Service credits: goodwill credit notes, converted at the FX rate of the invoice they credit.
service_credits as (
    select
        {{ local_month('credit_notes.created_at') }} as month,
        coalesce(billing_segments.segment, 'unknown') as segment,
        sum(round(credit_notes.amount * invoices.fx_rate_to_usd, 2)) as amount
    from {{ ref('stg_billing__credit_notes') }} as credit_notes
    inner join {{ ref('int_invoices_converted') }} as invoices
        on credit_notes.invoice_id = invoices.invoice_id
    left join billing_segments
        on credit_notes.billing_customer_id::text = billing_segments.billing_customer_id
    where credit_notes.credit_note_purpose = 'service_credit' and credit_notes.credit_note_status = 'issued'
    group by 1, 2
),

-- allocation of month-level costs to segments ------------------------------------------------------------------
cost_pools as (
    select month, 'sales_marketing' as pool, sum(cost_usd) as amount from costs
    where cost_category = 'acquisition' group by 1
    union all
    select month, 'paid_spend', amount from monthly_paid_spend
    union all
    select month, team, sum(cost_usd) from costs
    where team in ('support', 'customer_success') group by 1, 2
),

pools as (
    select month, pool, sum(amount) as amount from cost_pools group by 1, 2
),

drivers as (
    select month, segment, 'paid_spend' as pool, new_customers as driver from new_customers
    union all
    select month, segment, 'sales_marketing', new_customers from new_customers
    union all
    select month, segment, 'support', tickets from tickets
    union all
    select month, segment, 'customer_success', customers_at_start from customer_counts
),

driver_grid as (
    select
        months.month,
        segments.segment,
        pool_names.pool,
        coalesce(drivers.driver, 0) as driver
    from months
    cross join segments
    cross join (values ('paid_spend'), ('sales_marketing'), ('support'), ('customer_success')) as pool_names (pool)
    left join drivers
        on months.month = drivers.month and segments.segment = drivers.segment and pool_names.pool = drivers.pool
),

driver_shares as (
    select
        month,
        segment,
        pool,
        driver,
        sum(driver) over (partition by month, pool) as pool_driver,
        sum(driver) over (partition by month, pool order by segment rows unbounded preceding) as cumulative_driver
    from driver_grid
),

-- The difference of rounded cumulative amounts: each pool's segments add up to the pool to the cent.
allocated as (
    select
        driver_shares.month,
        driver_shares.segment,
        driver_shares.pool,
        case
            when driver_shares.pool_driver > 0
                then round(coalesce(pools.amount, 0) * driver_shares.cumulative_driver / driver_shares.pool_driver, 2)
                - round(
                    coalesce(pools.amount, 0) * (driver_shares.cumulative_driver - driver_shares.driver)
                    / driver_shares.pool_driver, 2
                )
            else 0
        end as amount
    from driver_shares
    left join pools
        on driver_shares.month = pools.month and driver_shares.pool = pools.pool
),

-- A pool with cost but nothing to allocate by in its month (no new customer, no ticket, no customer at the
-- start) stays visible under segment 'unallocated'.
unallocated as (
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
            where driver_shares.month = pools.month and driver_shares.pool = pools.pool and driver_shares.pool_driver > 0
        )
),

allocated_costs as (
    select month, segment, pool, amount from allocated
    union all
    select month, segment, pool, amount from unallocated
),

segment_months as (
    select month, segment from driver_grid
    union
    select month, segment from unallocated
),

by_segment as (
    select
        segment_months.month,
        segment_months.segment,
        coalesce(sum(allocated_costs.amount) filter (where allocated_costs.pool = 'paid_spend'), 0) as paid_spend,
        coalesce(sum(allocated_costs.amount) filter (where allocated_costs.pool = 'sales_marketing'), 0)
            as sales_marketing_cost,
        coalesce(sum(allocated_costs.amount) filter (where allocated_costs.pool = 'support'), 0) as support_cost,
        coalesce(sum(allocated_costs.amount) filter (where allocated_costs.pool = 'customer_success'), 0)
            as customer_success_cost
    from segment_months
    left join allocated_costs
        on segment_months.month = allocated_costs.month and segment_months.segment = allocated_costs.segment
    group by 1, 2
),

segment_rows as (
    select
        by_segment.month,
        by_segment.segment,
        by_segment.paid_spend,
        by_segment.sales_marketing_cost,
        coalesce(new_customers.new_customers, 0) as new_customers,
        by_segment.support_cost,
        by_segment.customer_success_cost,
        coalesce(retention_discounts.amount, 0) as retention_discounts,
        coalesce(service_credits.amount, 0) as service_credits,
        coalesce(customer_counts.customers_retained, 0) as customers_retained
    from by_segment
    left join new_customers
        on by_segment.month = new_customers.month and by_segment.segment = new_customers.segment
    left join retention_discounts
        on by_segment.month = retention_discounts.month and by_segment.segment = retention_discounts.segment
    left join service_credits
        on by_segment.month = service_credits.month and by_segment.segment = service_credits.segment
    left join customer_counts
        on by_segment.month = customer_counts.month and by_segment.segment = customer_counts.segment
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
                then (support_cost + customer_success_cost + retention_discounts + service_credits)
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
