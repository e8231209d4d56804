{#
    One row per month of the billing data: the instant its MRR snapshot is taken. The MRR models read their months
    here, so a subscription's months (int_subscription_mrr_monthly) and a customer's (int_customer_mrr_monthly) are
    the same months.

    Months are calendar months of the reporting time zone (macros/reporting_calendar.sql): a month's snapshot is
    taken at the instant its last local day ends. They run from the month of the first subscription's start through
    the month of the reporting date (var as_of) or, when that is not set, of the latest billing record. When the data
    ends before a month is over, that month's snapshot is the state at the end of the data's last day
    (is_partial_month = true): cancellations scheduled for later are not churn yet.
#}

with

subscriptions as (
    select started_at from {{ ref('stg_billing__subscriptions') }}
),

subscription_events as (
    select occurred_at from {{ ref('stg_billing__subscription_events') }}
),

invoices as (
    select created_at from {{ ref('stg_billing__invoices') }}
),

fx_rates as (
    select rate_date from {{ ref('stg_billing__fx_rates') }}
),

data_bounds as (
    -- the reporting date, or else the latest billing record's day, ends the data; the export writes nothing after it
    select
        {{ local_month('min(started_at)') }} as first_month,
        {%- if reporting_as_of() is not none %}
        '{{ reporting_as_of() }}'::date as last_data_date
        {%- else %}
            (
                select max(latest.last_day) from (
                    select {{ local_date('max(created_at)') }} as last_day from invoices
                    union all
                    select {{ local_date('max(occurred_at)') }} from subscription_events
                    union all
                    select max(rate_date) from fx_rates
                ) as latest
            ) as last_data_date
        {%- endif %}
    from subscriptions
),

month_snapshots as (
    select
        month_start::date as month,
        -- the month's last instant (exclusive), or the data's last one when the month is partial
        least(
            {{ local_day_start("month_start + interval '1 month'") }},
            {{ local_day_start('data_bounds.last_data_date + 1') }}
        ) as snapshot_at,
        least((month_start + interval '1 month' - interval '1 day')::date, data_bounds.last_data_date)
            as month_last_day,
        date_trunc('month', data_bounds.last_data_date) = month_start
        and data_bounds.last_data_date < (month_start + interval '1 month' - interval '1 day')::date
            as is_partial_month
    from data_bounds
    cross join lateral generate_series(
        data_bounds.first_month, date_trunc('month', data_bounds.last_data_date), interval '1 month'
    ) as month_start
),

final as (
    select
        month,
        snapshot_at,
        -- the previous month's snapshot: an instant from it (inclusive) to this month's (exclusive) is first seen
        -- by this month's snapshot; the first month's snapshot is the first to see every earlier instant
        lag(snapshot_at) over (order by month) as previous_snapshot_at,
        month_last_day,
        is_partial_month
    from month_snapshots
)

select * from final
