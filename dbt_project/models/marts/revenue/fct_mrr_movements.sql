{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_customer_months_recomputed(customer_facts_built_sql(), mrr_movements_plan()) }}",
        post_hook="{{ record_incremental_state(horizon_sql=subscription_mrr_horizon_sql()) }}",
    )
}}
{#
    One row per customer and month: how the customer's month-end MRR moved since the previous month-end.
    A customer's first month has opening MRR 0. 0 → >0 is new the first time and a reactivation after any
    earlier month with MRR; >0 → 0 is churn; up and down while > 0 are expansion and contraction. Each
    movement amount is ≥ 0, so opening + new + reactivation + expansion − contraction − churn = closing.

    Incremental (macros/customer_mrr_incremental.sql): a daily run recomputes the customer months
    int_customer_mrr_monthly recomputed since this mart's last build, reading each one's previous month for its
    opening MRR. A schema change fails (on_schema_change): a changed contract changes the fingerprint, and the
    hook drops the table for dbt to create it again.
#}
{%- set recomputed = customer_mrr_recomputed(customer_facts_built_sql(), mrr_movements_plan()) -%}
with

customer_mrr as (
    select * from {{ ref('int_customer_mrr_monthly') }}
    {%- if recomputed is not none %}
    -- with the month before the first recomputed one: its MRR opens that month
    where {{ is_customer_month_recomputed(recomputed, month="(month + interval '1 month')") }}
    {%- endif %}
),

with_opening as (
    select
        customer_key,
        month,
        segment,
        acquisition_channel,
        cohort_month,
        months_since_cohort,
        is_partial_month,
        coalesce(lag(mrr) over (partition by customer_key order by month), 0) as opening_mrr,
        mrr as closing_mrr,
        -- had MRR at some earlier month-end: tells a reactivation from a new customer. A customer's rows start at
        -- its cohort month, the first with MRR > 0.
        month > cohort_month as had_mrr_before
    from customer_mrr
),

classified as (
    select
        *,
        case
            when opening_mrr = 0 and closing_mrr > 0 and not had_mrr_before then 'new'
            when opening_mrr = 0 and closing_mrr > 0 then 'reactivation'
            when opening_mrr > 0 and closing_mrr = 0 then 'churn'
            when closing_mrr > opening_mrr then 'expansion'
            when closing_mrr < opening_mrr then 'contraction'
            when closing_mrr > 0 then 'retained'
            else 'inactive'
        end as movement_type
    from with_opening
),

final as (
    select
        customer_key,
        month,
        segment,
        acquisition_channel,
        cohort_month,
        months_since_cohort,
        movement_type,
        opening_mrr::numeric(14, 2) as opening_mrr,
        (case when movement_type = 'new' then closing_mrr else 0 end)::numeric(14, 2) as new_mrr,
        (case when movement_type = 'reactivation' then closing_mrr else 0 end)::numeric(14, 2) as reactivation_mrr,
        (case when movement_type = 'expansion' then closing_mrr - opening_mrr else 0 end)::numeric(14, 2)
            as expansion_mrr,
        (case when movement_type = 'contraction' then opening_mrr - closing_mrr else 0 end)::numeric(14, 2)
            as contraction_mrr,
        (case when movement_type = 'churn' then opening_mrr else 0 end)::numeric(14, 2) as churned_mrr,
        closing_mrr::numeric(14, 2) as closing_mrr,
        (closing_mrr - opening_mrr)::numeric(14, 2) as net_mrr_change,
        opening_mrr > 0 as is_active_at_start,
        closing_mrr > 0 as is_active_at_end,
        is_partial_month
    from classified
)

select
    customer_key,
    month,
    segment,
    acquisition_channel,
    cohort_month,
    months_since_cohort,
    movement_type,
    opening_mrr,
    new_mrr,
    reactivation_mrr,
    expansion_mrr,
    contraction_mrr,
    churned_mrr,
    closing_mrr,
    net_mrr_change,
    is_active_at_start,
    is_active_at_end,
    is_partial_month
from final
{%- if recomputed is not none %}
where {{ is_customer_month_recomputed(recomputed) }}
{%- endif %}
-- Stored in month, segment order: one month's rows, and within it one segment's, lie together on disk, so a
-- month range of one segment reads those pages only instead of the whole table (clustering: see the YAML)
order by month, segment
