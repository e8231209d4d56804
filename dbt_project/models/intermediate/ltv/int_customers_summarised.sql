{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        indexes=[{'columns': ['customer_key'], 'unique': True}],
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_customers_summarised_recomputed() }}",
        post_hook=[
            "{{ restate_customers_summarised_as_of() }}",
            "{{ record_incremental_state(digest_sql=customers_summarised_digest_sql()) }}",
        ],
    )
}}
{#
    One row per customer with a one-off purchase on or before the as-of date: the numbers BG/NBD and
    Gamma-Gamma see, in WEEKS (7 days), the library's default unit (tealeaves.ltv.TimeUnit.WEEKS). The same
    definitions as tealeaves.ltv.transactions.calibration_summaries, checked row for row by
    tests/integration/test_ltv_pipeline.py:

    - purchases on the same day (reporting time zone) are one purchase (their amounts summed): the models count
      occasions;
    - frequency = purchase days after the first (repeat purchases);
    - recency_weeks = whole days from the first to the last purchase day ÷ 7 (0 without a repeat);
    - t_weeks = whole days from the first purchase day to the as-of date ÷ 7;
    - monetary_value_usd = mean amount of the repeat purchase days that cost something, the first excluded (0
      without one); spend_frequency = how many such days. A $0 purchase day is a purchase (it counts in
      frequency and recency) but not a spend: Gamma-Gamma takes each purchase's value as a draw from a Gamma
      distribution, which is > 0, so its x and mean are over the paid repeat days only.

    The as-of date is the var `ltv_as_of` (YYYY-MM-DD) when given, else the reporting date (var `as_of`), else the
    day (reporting time zone) of the latest paid invoice of any kind: the day the billing export runs to, so a
    replay of old exports is valued as of its own end.

    Incremental (macros/customers_summarised_incremental.sql): a daily run recomputes the customers whose
    purchases something new touched and moves every other row to the new as-of date; it was rebuilt whole every
    day before, 2.6 to 3.2 s of a daily build at 100,000 customers.
#}
{%- set customers = customers_summarised_keys() %}

with

purchases as (
    select * from {{ ref('int_purchases_netted') }}
    {%- if customers is not none %}
    where customer_key = any({{ customers }})
    {%- endif %}
),

as_of as (
    select {{ customers_summarised_as_of_sql() }} as as_of_date
),

purchase_days as (
    select
        purchases.customer_key,
        purchases.purchased_on,
        sum(purchases.amount_usd) as amount_usd
    from purchases
    cross join as_of
    where purchases.purchased_on <= as_of.as_of_date
    group by purchases.customer_key, purchases.purchased_on
),

numbered_days as (
    select
        *,
        row_number() over (partition by customer_key order by purchased_on) as day_number
    from purchase_days
),

summaries as (
    select
        numbered_days.customer_key,
        min(numbered_days.purchased_on) as first_purchase_on,
        max(numbered_days.purchased_on) as last_purchase_on,
        count(*) - 1 as frequency,
        count(*) filter (where numbered_days.day_number > 1 and numbered_days.amount_usd > 0) as spend_frequency,
        avg(numbered_days.amount_usd) filter (
            where numbered_days.day_number > 1 and numbered_days.amount_usd > 0
        ) as mean_repeat_amount_usd,
        sum(numbered_days.amount_usd) as purchases_usd,
        max(as_of.as_of_date) as as_of_date
    from numbered_days
    cross join as_of
    group by numbered_days.customer_key
),

final as (
    select
        customer_key,
        as_of_date,
        'weeks'::text as time_unit,
        first_purchase_on,
        last_purchase_on,
        frequency::integer as frequency,
        ((last_purchase_on - first_purchase_on) / 7.0)::numeric(12, 6) as recency_weeks,
        {{ weeks_since_first_purchase('as_of_date', 'first_purchase_on') }} as t_weeks,
        coalesce(mean_repeat_amount_usd, 0)::numeric(14, 4) as monetary_value_usd,
        spend_frequency::integer as spend_frequency,
        purchases_usd::numeric(18, 2) as purchases_usd
    from summaries
)

select
    customer_key,
    as_of_date,
    time_unit,
    first_purchase_on,
    last_purchase_on,
    frequency,
    recency_weeks,
    t_weeks,
    monetary_value_usd,
    spend_frequency,
    purchases_usd
from final
