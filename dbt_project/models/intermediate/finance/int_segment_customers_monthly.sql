-- Per month and segment: the customers paying at the start of the month (MRR > 0 at the end of the month
-- before) and those of them still paying at its end, the retained ones (docs/metrics.md, "Acquisition versus
-- retention"). Customers without a CRM segment count under 'unknown'.

with

customers as (
    select customer_key, segment from {{ ref('int_customers_acquired') }}
),

customer_mrr as (
    select customer_key, month, mrr from {{ ref('int_customer_mrr_monthly') }}
),

customer_months as (
    select
        this_month.month,
        coalesce(customers.segment, 'unknown') as segment,
        coalesce(previous_month.mrr, 0) > 0 as active_at_start,
        coalesce(previous_month.mrr, 0) > 0 and this_month.mrr > 0 as retained
    from customer_mrr as this_month
    left join customer_mrr as previous_month
        on
            this_month.customer_key = previous_month.customer_key
            and previous_month.month = (this_month.month - interval '1 month')::date
    left join customers
        on this_month.customer_key = customers.customer_key
)

select
    month,
    segment,
    (count(*) filter (where active_at_start))::integer as customers_at_start,
    (count(*) filter (where retained))::integer as customers_retained
from customer_months
group by 1, 2
