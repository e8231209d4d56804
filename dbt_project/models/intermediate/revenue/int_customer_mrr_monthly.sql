{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        indexes=[{'columns': ['customer_key', 'month'], 'unique': True}],
        pre_hook=[
            "{{ hash_joins_only() }}",
            "{{ serial_plan() }}",
            "{{ delete_customer_months_recomputed(customer_mrr_facts_sql(), customer_mrr_plan()) }}",
        ],
        post_hook=[
            "{{ record_incremental_state(
                horizon_sql=subscription_mrr_horizon_sql(), digest_sql=subscription_mrr_digest_sql(),
                rebuilt_whole=not customer_mrr_plan().incremental,
            ) }}",
            "{{ index_if_missing('month', 'by_month') }}",
        ],
    )
}}
{#
    One row per customer and month: the customer's MRR at the month's last instant, in the reporting currency -
    the sum of its subscriptions' (int_subscription_mrr_monthly, which says how a subscription's MRR is found),
    over every billing customer identity resolution gives it.

    Months are int_revenue_months': calendar months of the reporting time zone, snapshot at the instant the
    month's last local day ends, or at the end of the data's last day in a partial last month. They run from the
    customer's first month with MRR > 0 through the data's last month, densely (0 after churn), so gaps and
    reactivations are visible. The cohort month, segment and channel are whole-customer facts
    (customer_mrr_facts_sql).

    Incremental (macros/customer_mrr_incremental.sql): a daily run recomputes every month of the customers
    something new touched, and of the others the months new data can change (the data's moved end, an FX rate);
    it keeps the rest. Append: the pre-hook deletes every row the run replaces. The post-hook records a recompute of everything
    (rebuilt_whole), after which fct_mrr_movements recomputes everything too.

    Indexed on month too (a post-hook, so that a warehouse built before it gets it): the latest month's rows,
    which dim_customers and every plan's comparison of customer facts read, are a twentieth of the table.

    Planned in one process (macros/serial_plan.sql): in parallel, the leader and each worker reduced every
    subscription month for the customers' facts (at 100,000 customers a daily run's statement took 1.39 to 1.45 s
    on three processes, 1.13 to 1.16 s on one).
#}
{%- set recomputed = customer_mrr_recomputed(customer_mrr_facts_sql(), customer_mrr_plan()) -%}

with

billing_identity as (
    select source_id as billing_customer_id, customer_key
    from {{ ref('int_customer_identity') }}
    where source_system = 'billing_customer'
),

subscription_mrr as (
    select * from {{ ref('int_subscription_mrr_monthly') }}
    {%- if recomputed is not none %}
    where month >= {{ recomputed.from_month }}
        or billing_customer_id in (
            select billing_customer_id from billing_identity where customer_key = any({{ recomputed.customers }})
        )
        or month >= {{ recomputed.moved_from }} and billing_customer_id in (
            select billing_customer_id from billing_identity where customer_key = any({{ recomputed.moved }})
        )
    {%- endif %}
),

months as (
    select * from {{ ref('int_revenue_months') }}
),

customer_facts as (
    {{ customer_mrr_facts_sql() | indent(4) }}
),

customer_subscription_mrr as (
    select
        billing_identity.customer_key,
        subscription_mrr.month,
        sum(subscription_mrr.mrr) as mrr,
        sum(subscription_mrr.list_mrr) as list_mrr,
        count(*) filter (where subscription_mrr.mrr > 0) as active_subscriptions,
        bool_or(subscription_mrr.fx_missing) as fx_missing
    from subscription_mrr
    inner join billing_identity
        on subscription_mrr.billing_customer_id = billing_identity.billing_customer_id
    group by billing_identity.customer_key, subscription_mrr.month
),

customer_months as (
    select
        customer_facts.customer_key,
        months.month,
        months.is_partial_month,
        customer_facts.cohort_month,
        customer_facts.segment,
        customer_facts.acquisition_channel
    from customer_facts
    inner join months
        on customer_facts.cohort_month <= months.month
    {%- if recomputed is not none %}
    where
        {{ is_customer_month_recomputed(recomputed, 'customer_facts.customer_key', 'months.month') }}
        -- implied by the line above, on the customer alone: only the customers recomputed meet the months
        and {{ is_customer_recomputed(recomputed, 'customer_facts.customer_key') }}
    {%- endif %}
),

final as (
    select
        customer_months.customer_key,
        customer_months.month,
        coalesce(customer_subscription_mrr.mrr, 0)::numeric(14, 2) as mrr,
        coalesce(customer_subscription_mrr.list_mrr, 0)::numeric(14, 2) as list_mrr,
        coalesce(customer_subscription_mrr.mrr, 0) > 0 as is_active,
        coalesce(customer_subscription_mrr.active_subscriptions, 0)::integer as active_subscriptions,
        coalesce(customer_subscription_mrr.fx_missing, false) as fx_missing,
        customer_months.segment,
        customer_months.acquisition_channel,
        customer_months.cohort_month,
        (
            (extract(year from customer_months.month) - extract(year from customer_months.cohort_month)) * 12
            + extract(month from customer_months.month) - extract(month from customer_months.cohort_month)
        )::integer as months_since_cohort,
        customer_months.is_partial_month
    from customer_months
    left join customer_subscription_mrr
        on
            customer_months.customer_key = customer_subscription_mrr.customer_key
            and customer_months.month = customer_subscription_mrr.month
)

select * from final
