{#
    One row per month and segment, plus segment = 'all' for the whole book: the MRR bridge (opening, each
    movement, closing), gross and net revenue retention, logo churn and customer counts.
    GRR and NRR follow docs/metrics.md: only customers active at the opening count (new and reactivated MRR are
    left out), so GRR = (opening − contraction − churn) ÷ opening ≤ 1 and NRR adds expansion. Expansion,
    contraction and churn can only come from customers active at the opening, so the month's sums are exactly
    the opening cohort's. Ratios are null when nothing was active at the opening.
#}
with

movements as (
    select * from {{ ref('fct_mrr_movements') }}
),

by_segment as (
    select
        month,
        segment,
        bool_or(is_partial_month) as is_partial_month,
        sum(opening_mrr) as opening_mrr,
        sum(new_mrr) as new_mrr,
        sum(reactivation_mrr) as reactivation_mrr,
        sum(expansion_mrr) as expansion_mrr,
        sum(contraction_mrr) as contraction_mrr,
        sum(churned_mrr) as churned_mrr,
        sum(closing_mrr) as closing_mrr,
        count(*) filter (where is_active_at_start) as customers_at_start,
        count(*) filter (where is_active_at_end) as customers_at_end,
        count(*) filter (where movement_type = 'new') as new_customers,
        count(*) filter (where movement_type = 'reactivation') as reactivated_customers,
        count(*) filter (where movement_type = 'churn') as churned_customers,
        count(*) filter (where movement_type = 'expansion') as expanded_customers,
        count(*) filter (where movement_type = 'contraction') as contracted_customers
    from movements
    group by month, segment
),

whole_book as (
    select
        month,
        'all' as segment,
        bool_or(is_partial_month) as is_partial_month,
        sum(opening_mrr) as opening_mrr,
        sum(new_mrr) as new_mrr,
        sum(reactivation_mrr) as reactivation_mrr,
        sum(expansion_mrr) as expansion_mrr,
        sum(contraction_mrr) as contraction_mrr,
        sum(churned_mrr) as churned_mrr,
        sum(closing_mrr) as closing_mrr,
        sum(customers_at_start) as customers_at_start,
        sum(customers_at_end) as customers_at_end,
        sum(new_customers) as new_customers,
        sum(reactivated_customers) as reactivated_customers,
        sum(churned_customers) as churned_customers,
        sum(expanded_customers) as expanded_customers,
        sum(contracted_customers) as contracted_customers
    from by_segment
    group by month
),

combined as (
    select * from by_segment
    union all
    select * from whole_book
),

final as (
    select
        month,
        segment,
        opening_mrr::numeric(18, 2) as opening_mrr,
        new_mrr::numeric(18, 2) as new_mrr,
        reactivation_mrr::numeric(18, 2) as reactivation_mrr,
        expansion_mrr::numeric(18, 2) as expansion_mrr,
        contraction_mrr::numeric(18, 2) as contraction_mrr,
        churned_mrr::numeric(18, 2) as churned_mrr,
        closing_mrr::numeric(18, 2) as closing_mrr,
        round((opening_mrr - contraction_mrr - churned_mrr) / nullif(opening_mrr, 0), 4)::numeric(8, 4)
            as gross_revenue_retention,
        round((opening_mrr + expansion_mrr - contraction_mrr - churned_mrr) / nullif(opening_mrr, 0), 4)::numeric(
            8, 4
        ) as net_revenue_retention,
        round(churned_customers::numeric / nullif(customers_at_start, 0), 4)::numeric(8, 4) as logo_churn_rate,
        customers_at_start::integer as customers_at_start,
        customers_at_end::integer as customers_at_end,
        new_customers::integer as new_customers,
        reactivated_customers::integer as reactivated_customers,
        churned_customers::integer as churned_customers,
        expanded_customers::integer as expanded_customers,
        contracted_customers::integer as contracted_customers,
        is_partial_month
    from combined
)

select
    month,
    segment,
    opening_mrr,
    new_mrr,
    reactivation_mrr,
    expansion_mrr,
    contraction_mrr,
    churned_mrr,
    closing_mrr,
    gross_revenue_retention,
    net_revenue_retention,
    logo_churn_rate,
    customers_at_start,
    customers_at_end,
    new_customers,
    reactivated_customers,
    churned_customers,
    expanded_customers,
    contracted_customers,
    is_partial_month
from final
