{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='sync_all_columns',
        indexes=[{'columns': ['subscription_id', 'month'], 'unique': True}],
        pre_hook=["{{ hash_joins_only() }}", "{{ delete_subscription_months_recomputed() }}"],
        post_hook=[
            "{{ record_incremental_state(
                horizon_sql=subscription_mrr_horizon_sql(), digest_sql=subscription_mrr_digest_sql()
            ) }}",
            "{{ index_if_missing(['currency_code', 'month'], 'by_currency_month') }}",
        ],
    )
}}
{#
    One row per subscription and month in which it counts: its MRR at the month's last instant, in the reporting
    currency (int_customer_mrr_monthly sums a customer's).

    MRR is rebuilt from the subscription's state, as Stripe-modelled marts do: the quantity, price and status
    a subscription had at the snapshot instant (its latest customer.subscription.* event at or before it; before
    a subscription's first exported event, that event's data.previous_attributes; for history older than the
    export's earliest event - Stripe keeps events 30 days - the invoice line whose service period holds the
    instant), times the price's unit amount, normalised to one month (yearly prices ÷ 12), less recurring discounts
    (repeating and forever coupons; a 'once' coupon only when it covers a service period longer than a month,
    e.g. a save offer on an annual renewal), converted at the latest FX rate on or before the month's last day.
    One-off charges (invoice items, manual invoices), tax, refunds and credit notes never touch MRR: a refund
    after the period does not rewrite past months.

    A subscription counts while active or past_due (a failed renewal leaves the invoice open and the customer
    still subscribed; Stripe moves it to unpaid or canceled when dunning gives up). Churn is the end of the
    subscription (customer.subscription.deleted, or ended_at on the exported subscription when the event
    is missing, or canceled_at when a canceled subscription has no ended_at), which Stripe dates at the end of
    the paid period. The months and their snapshot instants are int_revenue_months'.

    Incremental (macros/subscription_mrr_incremental.sql): a daily run recomputes every month of the
    subscriptions a new record names, and of the others only the months new data can change: those the data's
    moved end reaches, of the subscriptions with a record dated since, and those an FX rate changed, of the
    subscriptions priced in its currency; it keeps the rest. Append: the pre-hook deletes every row the run
    replaces, so dbt's own delete by key would find nothing. Indexed on (currency_code, month) too (a post-hook,
    so that a warehouse built before it gets it): an FX rate changes the months of its currency from the rate's
    month only, a twentieth of the table, which each plan reads.

    Length (over the style's ~150 lines): One statement, not several models: every step answers one question (a
    subscription's state and price at each month's last instant, from its events, the invoice lines that cover
    that instant and that day's FX rate), the pre-hook's hash-joins-only setting must hold for all of its joins,
    and its step results are not worth storing. The CTEs run in order: inputs, subscription months, state,
    pricing.
#}
{#- the subscription months the run recomputes; every one in a full build -#}
{%- set recomputed = subscription_mrr_recomputed(subscription_mrr_plan()) or {
    'touched': "'{}'::text[]", 'from_month': "'-infinity'::date", 'moved': "'{}'::text[]", 'moved_from': "'infinity'::date",
} -%}

with

subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

subscription_events as materialized (
    select * from {{ ref('stg_billing__subscription_events') }}
),

prices as (
    select * from {{ ref('stg_billing__prices') }}
),

products as (
    select * from {{ ref('stg_billing__products') }}
),

invoices as (
    select * from {{ ref('stg_billing__invoices') }}
),

invoice_line_items as (
    select * from {{ ref('stg_billing__invoice_line_items') }}
),

coupons as (
    select * from {{ ref('stg_billing__coupons') }}
),

fx_rates as (
    select * from {{ ref('stg_billing__fx_rates') }}
),

months as (
    select * from {{ ref('int_revenue_months') }}
),

event_coverage as (
    -- Stripe keeps events for 30 days: an export holds events from its earliest one on, and says nothing of the
    -- time before it (a backfill's history). Null when the export has no subscription events at all.
    select min(occurred_at) as covered_from from subscription_events
),

subscription_months as (
    select
        subscriptions.subscription_id,
        subscriptions.billing_customer_id,
        subscriptions.currency_code,
        -- Stripe's ended_at ends the subscription even when no customer.subscription.deleted event was exported;
        -- a canceled subscription without ended_at ended when it was canceled
        coalesce(
            subscriptions.ended_at,
            case when subscriptions.subscription_status = 'canceled' then subscriptions.canceled_at end
        ) as ended_at,
        subscriptions.quantity as exported_quantity,
        subscriptions.price_id as exported_price_id,
        months.month,
        months.snapshot_at,
        months.month_last_day,
        months.is_partial_month,
        coalesce(event_coverage.covered_from < months.snapshot_at, false) as events_cover_snapshot
    from subscriptions
    inner join months
        on subscriptions.started_at < months.snapshot_at
    cross join event_coverage
    where
        {{ is_subscription_month_recomputed(recomputed, 'subscriptions.subscription_id', 'months.month') }}
        -- implied by the line above, but on the subscription alone: PostgreSQL keeps the subscriptions a run
        -- recomputes before they meet the months, not every subscription's every month after
        and {{ is_subscription_recomputed(recomputed, 'subscriptions.subscription_id') }}
),

recomputed_subscription_events as materialized (
    -- the events of the subscriptions with a month recomputed, kept once before they meet the months: filtered in
    -- the join, every month re-read and re-tested all 158,470 events (at 100,000 customers, 0.75 s of a
    -- re-delivered day's 2.2 s statement)
    select * from subscription_events
    where {{ is_subscription_recomputed(recomputed, 'subscription_id') }}
),

event_months as (
    -- the month whose snapshot is the first to see each event; an event falls in one month, found in the small
    -- months table. In an incremental run a subscription recomputed from a month on sees every earlier event in
    -- that month, as the first month of a full build does (only the recomputed subscriptions' events come here).
    select
        subscription_events.subscription_id,
        {{ first_subscription_month_recomputed(
            recomputed, 'subscription_events.subscription_id', 'months.month'
        ) | indent(8) }} as month,
        subscription_events.occurred_at,
        subscription_events.event_id,
        subscription_events.event_action,
        subscription_events.subscription_status,
        subscription_events.quantity,
        subscription_events.price_id
    from recomputed_subscription_events as subscription_events
    inner join months
        on
            subscription_events.occurred_at < months.snapshot_at
            and (
                months.previous_snapshot_at is null
                or subscription_events.occurred_at >= months.previous_snapshot_at
            )
),

month_last_events as (
    -- each subscription's latest event of those the month's snapshot is the first to see
    select distinct on (subscription_id, month)
        subscription_id,
        month,
        event_action,
        subscription_status,
        quantity,
        price_id
    from event_months
    order by
        subscription_id asc,
        month asc,
        occurred_at desc,
        event_id desc
),

subscription_event_timeline as (
    -- the subscription's months and the months its events fall in (an event may precede the subscription's start)
    select
        coalesce(subscription_months.subscription_id, month_last_events.subscription_id) as subscription_id,
        coalesce(subscription_months.month, month_last_events.month) as month,
        month_last_events.subscription_id is not null as has_event,
        month_last_events.event_action,
        month_last_events.subscription_status,
        month_last_events.quantity,
        month_last_events.price_id
    from subscription_months
    full join month_last_events
        on
            subscription_months.subscription_id = month_last_events.subscription_id
            and subscription_months.month = month_last_events.month
),

subscription_event_runs as (
    -- months that share their latest event share events_so_far, the count of event months up to them
    select
        *,
        count(*) filter (where has_event) over (partition by subscription_id order by month) as events_so_far
    from subscription_event_timeline
),

latest_events as (
    -- the subscription's latest event at or before the month's last instant (snapshot_at is exclusive): that of
    -- the last month up to this one in which an event fell, carried forward
    select
        subscription_id,
        month,
        first_value(event_action) over event_run as event_action,
        first_value(subscription_status) over event_run as subscription_status,
        first_value(quantity) over event_run as quantity,
        first_value(price_id) over event_run as price_id
    from subscription_event_runs
    where events_so_far > 0
    window event_run as (partition by subscription_id, events_so_far order by month)
),

first_events as (
    -- When no event precedes the snapshot (the created event is missing), the subscription's first event tells
    -- the state before it: Stripe's data.previous_attributes holds the old value of every attribute the event
    -- changed; an attribute it leaves out was as data.object shows it.
    select distinct on (subscription_id)
        subscription_id,
        coalesce(previous_quantity, quantity) as quantity_before,
        coalesce(previous_price_id, price_id) as price_id_before
    from recomputed_subscription_events
    order by subscription_id, occurred_at, event_id
),

subscription_invoice_lines as (
    -- Subscription invoice lines of open and paid invoices, with the invoice's coupon. Open invoices count: a
    -- renewal still being retried leaves the customer subscribed (past_due).
    select
        invoice_line_items.line_item_id,
        invoice_line_items.subscription_id,
        invoice_line_items.period_start_at,
        invoice_line_items.period_end_at,
        invoice_line_items.price_id,
        invoice_line_items.quantity,
        invoice_line_items.amount,
        invoice_line_items.discount_amount,
        coupons.duration as coupon_duration
    from invoice_line_items
    inner join invoices
        on invoice_line_items.invoice_id = invoices.invoice_id
    left join coupons
        on invoices.coupon_id = coupons.coupon_id
    where
        invoice_line_items.line_type = 'subscription'
        and not coalesce(invoice_line_items.is_proration, false)
        and invoices.invoice_status in ('open', 'paid')
        and {{ is_subscription_recomputed(recomputed, 'invoice_line_items.subscription_id') }}
        -- a line ending a day before the first month recomputed (UTC and the reporting time zone's months differ
        -- by less) cannot hold a snapshot of that month or a later one
        and (
            invoice_line_items.period_end_at >= ({{ recomputed.from_month }} - 1)::timestamp
            or invoice_line_items.subscription_id = any({{ recomputed.touched }})
            or (
                invoice_line_items.period_end_at >= ({{ recomputed.moved_from }} - 1)::timestamp
                and invoice_line_items.subscription_id = any({{ recomputed.moved }})
            )
        )
),

covering_line_months as (
    -- A month's snapshot lies after the month's first instant and no later than the next month's, so only the months
    -- from the period start's through the period end's can hold one: those, one row each, looked up by month below
    -- (a join of every line with every month, filtered, compared 360,000 lines with all 25 months at 39,000
    -- customers: 8.6 million rows removed, more with every month of history). A set-returning function in the
    -- select list, not a lateral join, so no per-line subplan runs.
    select
        subscription_id,
        line_item_id,
        period_start_at,
        period_end_at,
        price_id,
        quantity,
        amount,
        discount_amount,
        coupon_duration,
        generate_series(
            {{ local_month('period_start_at') }}::timestamp,
            {{ local_month('period_end_at') }}::timestamp,
            interval '1 month'
        )::date as month
    from subscription_invoice_lines
),

covering_invoice_lines as (
    -- The subscription invoice line whose service period (the line's period, not the invoice's) holds the
    -- snapshot instant: where the discount lives, and what was billed where no event tells the state.
    select distinct on (covering_line_months.subscription_id, months.month)
        covering_line_months.subscription_id,
        months.month,
        covering_line_months.price_id,
        covering_line_months.quantity,
        covering_line_months.amount,
        covering_line_months.discount_amount,
        covering_line_months.coupon_duration
    from covering_line_months
    inner join months
        on
            covering_line_months.month = months.month
            and covering_line_months.period_start_at < months.snapshot_at
            and covering_line_months.period_end_at >= months.snapshot_at
    where {{ is_subscription_month_recomputed(recomputed, 'covering_line_months.subscription_id', 'months.month') }}
    order by
        covering_line_months.subscription_id asc,
        months.month asc,
        covering_line_months.period_start_at desc,
        covering_line_months.line_item_id asc
),

subscription_states as (
    -- The state at the snapshot: the latest event before it; else, where the export's events reach back past
    -- the snapshot, the state before the subscription's first event; else (history older than the events)
    -- the invoice line billing the period; the exported subscription when nothing else tells.
    select
        subscription_months.*,
        latest_events.event_action as latest_event_action,
        latest_events.subscription_status as latest_status,
        case
            when latest_events.subscription_id is not null
                then coalesce(latest_events.quantity, subscription_months.exported_quantity)
            when subscription_months.events_cover_snapshot
                then coalesce(first_events.quantity_before, subscription_months.exported_quantity)
            else coalesce(
                covering_invoice_lines.quantity, first_events.quantity_before, subscription_months.exported_quantity
            )
        end as quantity,
        case
            when latest_events.subscription_id is not null
                then coalesce(latest_events.price_id, subscription_months.exported_price_id)
            when subscription_months.events_cover_snapshot
                then coalesce(first_events.price_id_before, subscription_months.exported_price_id)
            else coalesce(
                covering_invoice_lines.price_id, first_events.price_id_before, subscription_months.exported_price_id
            )
        end as price_id,
        covering_invoice_lines.amount as covering_line_amount,
        covering_invoice_lines.discount_amount as covering_line_discount_amount,
        covering_invoice_lines.coupon_duration
    from subscription_months
    left join latest_events
        on
            subscription_months.subscription_id = latest_events.subscription_id
            and subscription_months.month = latest_events.month
    left join first_events
        on subscription_months.subscription_id = first_events.subscription_id
    left join covering_invoice_lines
        on
            subscription_months.subscription_id = covering_invoice_lines.subscription_id
            and subscription_months.month = covering_invoice_lines.month
),

active_subscriptions as (
    select *
    from subscription_states
    where
        (ended_at is null or ended_at >= snapshot_at)
        and coalesce(latest_event_action, 'created') <> 'deleted'
        and coalesce(latest_status, 'active') in ('active', 'past_due')
),

month_end_fx_rates as (
    -- latest rate on or before the month's last day, per currency
    select distinct on (months.month, fx_rates.currency_code)
        months.month,
        fx_rates.currency_code,
        fx_rates.rate_to_usd
    from months
    inner join fx_rates
        on months.month_last_day >= fx_rates.rate_date
    order by months.month asc, fx_rates.currency_code asc, fx_rates.rate_date desc
),

priced_subscriptions as (
    select
        active_subscriptions.billing_customer_id,
        active_subscriptions.subscription_id,
        active_subscriptions.month,
        products.segment as plan_segment,
        prices.currency_code,
        active_subscriptions.quantity * prices.unit_amount
        / (
            prices.billing_interval_count * case prices.billing_interval
                when 'year' then 12.0
                when 'month' then 1.0
                when 'week' then 12.0 / 52
                when 'day' then 12.0 / 365
            end
        ) as list_mrr_local,
        case
            -- recurring discounts only; a 'once' coupon is recurring when it covers a period longer than a month
            when
                active_subscriptions.coupon_duration in ('repeating', 'forever')
                or (
                    active_subscriptions.coupon_duration = 'once'
                    and (prices.billing_interval = 'year' or prices.billing_interval_count > 1)
                )
                then coalesce(
                    active_subscriptions.covering_line_discount_amount
                    / nullif(active_subscriptions.covering_line_amount, 0),
                    0
                )
            else 0
        end as discount_share,
        case
            when prices.currency_code = '{{ var("reporting_currency") | upper }}' then 1.0
            else month_end_fx_rates.rate_to_usd
        end as fx_rate_to_usd
    from active_subscriptions
    inner join prices
        on active_subscriptions.price_id = prices.price_id
    left join products
        on prices.product_id = products.product_id
    left join month_end_fx_rates
        on
            active_subscriptions.month = month_end_fx_rates.month
            and prices.currency_code = month_end_fx_rates.currency_code
),

subscription_mrr as (
    select
        billing_customer_id,
        subscription_id,
        month,
        plan_segment,
        currency_code,
        fx_rate_to_usd is null as fx_missing,
        round(list_mrr_local * fx_rate_to_usd, 2)::numeric(14, 2) as list_mrr,
        round(list_mrr_local * (1 - discount_share) * fx_rate_to_usd, 2)::numeric(14, 2) as mrr
    from priced_subscriptions
)

select * from subscription_mrr
