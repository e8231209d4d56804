{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        indexes=[{'columns': ['customer_key', 'month'], 'unique': True}],
        pre_hook="{{ delete_customer_months(customer_signals_recomputed()) }}",
        post_hook=[
            "{{ record_customer_signals_read(customer_signals_recomputed()) }}",
            "{{ record_incremental_state(
                horizon_sql=subscription_mrr_horizon_sql(), rebuilt_whole=not customer_signals_plan().incremental
            ) }}",
            "{{ prune_recomputed_keys('fct_support_tickets') }}",
            "{{ prune_recomputed_keys('fct_survey_responses') }}",
        ],
    )
}}
{#
    One row per customer and calendar month from the customer's first paid month: the early-warning signals a
    customer-success team watches, counted in the month, beside the month's MRR movement and whether the
    customer churned the month after. fct_customer_health turns them into a score; they are kept apart so the
    score's weights can change without re-deriving the signals.

    Tickets, SLA outcomes and failed charges count in the calendar month (reporting time zone) they were created
    in. The NPS is the latest answered NPS response submitted before the month's end, however old. A ticket or
    charge that no system ties to a customer cannot count for one.

    Incremental (macros/customer_signals_incremental.sql): a daily run recomputes the customer months the day's
    MRR changes, tickets, survey answers and charges can change, and keeps the rest. Append: the pre-hook deletes
    every row the run replaces; the post-hook logs them for fct_customer_health.
#}
{%- set recomputed = customer_signals_recomputed() -%}

with

movements as (
    select * from {{ ref('fct_mrr_movements') }}
    {%- if recomputed is not none %}
    where {{ is_customer_month_recomputed(recomputed) }}
    {%- endif %}
),

tickets as (
    select
        customer_key,
        month,
        count(*) as tickets_opened,
        count(*) filter (where first_reply_sla_met = false) as first_reply_breaches,
        count(*) filter (where resolution_sla_met = false) as resolution_breaches,
        count(*) filter (where first_reply_sla_met = false or resolution_sla_met = false) as sla_breached_tickets
    from {{ ref('fct_support_tickets') }}
    where customer_key is not null
    {%- if recomputed is not none %}
        and {{ is_customer_month_recomputed(recomputed) }}
    {%- endif %}
    group by customer_key, month
),

billing_identity as (
    select source_id as billing_customer_id, customer_key
    from {{ ref('int_customer_identity') }}
    where source_system = 'billing_customer'
),

failed_charges as (
    select
        billing_identity.customer_key,
        {{ local_month('charges.created_at') }} as month,
        count(*) as failed_charges
    from {{ ref('stg_billing__charges') }} as charges
    inner join billing_identity
        on charges.billing_customer_id = billing_identity.billing_customer_id
    where charges.charge_status = 'failed'
    {%- if recomputed is not none %}
        and {{ is_customer_month_recomputed(recomputed, 'billing_identity.customer_key', local_month('charges.created_at')) }}
    {%- endif %}
    group by billing_identity.customer_key, {{ local_month('charges.created_at') }}
),

nps_answers as (
    select customer_key, submitted_at, response_id, nps_score
    from {{ ref('fct_survey_responses') }}
    where survey_type = 'nps' and is_nps_answered and customer_key is not null
),

latest_nps as (
    select distinct on (movements.customer_key, movements.month)
        movements.customer_key,
        movements.month,
        nps_answers.nps_score,
        nps_answers.submitted_at
    from movements
    inner join nps_answers
        on
            movements.customer_key = nps_answers.customer_key
            and nps_answers.submitted_at < {{ local_day_start("movements.month + interval '1 month'") }}
    order by
        movements.customer_key asc, movements.month asc, nps_answers.submitted_at desc, nps_answers.response_id desc
),

with_next_month as (
    select
        movements.*,
        lead(movements.movement_type) over (partition by movements.customer_key order by movements.month)
            as next_movement_type,
        lead(movements.is_partial_month) over (partition by movements.customer_key order by movements.month)
            as next_is_partial_month
    from movements
),

final as (
    select
        with_next_month.customer_key,
        with_next_month.month,
        with_next_month.segment,
        with_next_month.acquisition_channel,
        with_next_month.cohort_month,
        with_next_month.movement_type,
        with_next_month.opening_mrr,
        with_next_month.closing_mrr,
        with_next_month.net_mrr_change,
        with_next_month.is_active_at_end,
        coalesce(tickets.tickets_opened, 0)::integer as tickets_opened,
        coalesce(tickets.first_reply_breaches, 0)::integer as first_reply_breaches,
        coalesce(tickets.resolution_breaches, 0)::integer as resolution_breaches,
        coalesce(tickets.sla_breached_tickets, 0)::integer as sla_breached_tickets,
        coalesce(failed_charges.failed_charges, 0)::integer as failed_charges,
        latest_nps.nps_score as latest_nps_score,
        latest_nps.submitted_at as latest_nps_at,
        -- only a customer paying at this month-end can churn next month; unknown when next month is not (fully) in
        -- the data
        case
            when not with_next_month.is_active_at_end then null
            when with_next_month.next_movement_type is null or with_next_month.next_is_partial_month then null
            else with_next_month.next_movement_type = 'churn'
        end as churned_next_month
    from with_next_month
    left join tickets
        on with_next_month.customer_key = tickets.customer_key and with_next_month.month = tickets.month
    left join failed_charges
        on with_next_month.customer_key = failed_charges.customer_key and with_next_month.month = failed_charges.month
    left join latest_nps
        on with_next_month.customer_key = latest_nps.customer_key and with_next_month.month = latest_nps.month
)

select * from final
