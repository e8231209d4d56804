{{ config(materialized='view') }}
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

    A view over int_customer_purchase_history, which keeps everything but the as-of date incrementally: the
    as-of date moves every day, and with it every customer's t_weeks, so those are computed here, on read.
#}

with

history as (
    select * from {{ ref('int_customer_purchase_history') }}
),

as_of as (
    select {{ purchase_history_built_as_of_sql() }} as as_of_date
)

select
    history.customer_key,
    as_of.as_of_date,
    'weeks'::text as time_unit,
    history.first_purchase_on,
    history.last_purchase_on,
    history.frequency,
    history.recency_weeks,
    ((as_of.as_of_date - history.first_purchase_on) / 7.0)::numeric(12, 6) as t_weeks,
    history.monetary_value_usd,
    history.spend_frequency,
    history.purchases_usd
from history
cross join as_of
