{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_customer_months(customer_health_recomputed()) }}",
        post_hook=[
            "{{ record_incremental_state() }}",
            "{{ prune_recomputed_keys('int_customer_signals_monthly') }}",
        ],
    )
}}
{#
    One row per customer and month in which the customer pays at the month-end: the early-warning signals, a
    health score 0-100 and its band, and whether the customer churned the month after.

    The score starts at 100 and loses points for what raises the chance of leaving, each weight close to
    65 × ln(churn hazard ratio) so that points lost add up the way hazards multiply:
      - latest NPS answer to date a detractor (0-6): −45 (hazard ×2); a passive (7-8): −20 (not a promoter:
        customer success watches them; no answer costs nothing);
      - each ticket opened in the month whose first reply missed its SLA target: −25 (×1.5 each), at most 3;
      - each ticket whose first reply met its target but whose resolution missed it: −10, at most 3;
      - each failed charge in the month: −10, at most 2;
      - MRR contraction in the month (seats or plan down): −10;
      - support load beyond 3 tickets opened in the month: −5 per ticket, at most −15;
    floored at 0. Bands: healthy ≥ 85 (no warning beyond a stray resolution miss or a busy month), watch
    60-84 (a passive, one first-reply breach, a failed charge, a contraction), at_risk < 60 (a detractor, two
    first-reply breaches, or several lesser signals together).

    Incremental (macros/customer_signals_incremental.sql): a daily run recomputes the customer months
    int_customer_signals_monthly replaced since this mart's last build, and keeps the rest. A schema change fails
    (on_schema_change): a changed contract changes the fingerprint, and the hook drops the table for dbt to create
    it again.
#}
{%- set recomputed = customer_health_recomputed() -%}

with

signals as (
    select * from {{ ref('int_customer_signals_monthly') }}
    where is_active_at_end
    {%- if recomputed is not none %}
        and {{ is_customer_month_recomputed(recomputed) }}
    {%- endif %}
),

scored as (
    select
        *,
        case
            when latest_nps_score <= 6 then 'detractor'
            when latest_nps_score <= 8 then 'passive'
            when latest_nps_score is not null then 'promoter'
        end as latest_nps_category,
        greatest(
            0,
            100
            - case
                when latest_nps_score <= 6 then 45
                when latest_nps_score <= 8 then 20
                else 0
            end
            - 25 * least(first_reply_breaches, 3)
            - 10 * least(sla_breached_tickets - first_reply_breaches, 3)
            - 10 * least(failed_charges, 2)
            - case when movement_type = 'contraction' then 10 else 0 end
            - least(5 * greatest(tickets_opened - 3, 0), 15)
        ) as health_score
    from signals
),

final as (
    select
        customer_key,
        month,
        segment,
        acquisition_channel,
        cohort_month,
        closing_mrr::numeric(14, 2) as mrr_usd,
        net_mrr_change::numeric(14, 2) as net_mrr_change_usd,
        movement_type,
        tickets_opened,
        first_reply_breaches,
        resolution_breaches,
        sla_breached_tickets,
        failed_charges,
        latest_nps_score,
        latest_nps_at,
        latest_nps_category,
        health_score::integer as health_score,
        case
            when health_score >= 85 then 'healthy'
            when health_score >= 60 then 'watch'
            else 'at_risk'
        end as health_band,
        churned_next_month
    from scored
)

select
    customer_key,
    month,
    segment,
    acquisition_channel,
    cohort_month,
    mrr_usd,
    net_mrr_change_usd,
    movement_type,
    tickets_opened,
    first_reply_breaches,
    resolution_breaches,
    sla_breached_tickets,
    failed_charges,
    latest_nps_score,
    latest_nps_at,
    latest_nps_category,
    health_score,
    health_band,
    churned_next_month
from final
-- Stored in month, health_band order: one month's rows, and within it one band's, lie together on disk, so the
-- latest month and its at-risk list read a few pages instead of the whole table (clustering: see the YAML); a
-- daily run appends its recomputed rows in the same order, most of them of the latest month
order by month, health_band
