"""Reconciliation of `fct_mrr_movements` with billing: recurring revenue and the paid subscription invoices
behind it agree after FX.

MRR is a month-end snapshot; invoices are cash. Each paid subscription invoice is spread evenly over the months
its service period covers (an annual invoice over twelve), converted at its own FX rate, and compared with the
month's total MRR. The service period is the invoice lines' `period` (Stripe: for subscription line items, the
subscription period), never the invoice's `period_start`/`period_end`, which on a renewal is the period just ended
and on a first invoice the creation instant: spreading by those would book every renewal a month early. MRR and
invoices differ legitimately by renewals still unpaid at month end, one-off discounts and mid-month changes, so
the check warns beyond 10% rather than blocks: a gap that large means MRR and billing
have stopped describing the same customers (a lost FX rate, a mis-mapped price, a broken load).
"""

import great_expectations as gx

from tealeaves.quality import Check

TABLE = "fct_mrr_movements"
GRAIN = ("month",)
TOLERANCE = 0.10

_DISAGREEING_MONTHS = f"""
with paid_invoices as (
    select
        date_trunc('month', service_period_start_at) as first_month,
        amount_paid_usd,
        greatest(
            1, round(extract(epoch from service_period_end_at - service_period_start_at) / (86400 * 30.44))
        ) as months_covered
    from intermediate.int_invoices_converted
    where invoice_status = 'paid' and subscription_id is not null and not fx_missing and amount_paid_usd > 0
      and service_period_start_at is not null
),
-- summed by first month and length before spreading: a few hundred groups to spread instead of every invoice
invoiced_by_first_month as (
    select first_month, months_covered, sum(amount_paid_usd) / months_covered as invoiced_mrr
    from paid_invoices
    group by first_month, months_covered
),
invoiced as (
    select
        (invoiced_by_first_month.first_month + covered.months_after * interval '1 month')::date as month,
        sum(invoiced_by_first_month.invoiced_mrr) as invoiced_mrr
    from invoiced_by_first_month
    cross join lateral generate_series(0, invoiced_by_first_month.months_covered::integer - 1) as covered(months_after)
    group by 1
),
snapshot as (
    select month, sum(closing_mrr) as mrr from {{batch}} where not is_partial_month group by month
)
select snapshot.month, snapshot.mrr, invoiced.invoiced_mrr
from snapshot
join invoiced on invoiced.month = snapshot.month
where snapshot.month > (select min(month) from snapshot)
  and abs(snapshot.mrr - invoiced.invoiced_mrr) > {TOLERANCE} * snapshot.mrr
"""


def expectations() -> list[Check]:
    return [
        Check(
            gx.expectations.UnexpectedRowsExpectation(
                description=f"Month-end MRR within {TOLERANCE:.0%} of the paid subscription invoices for the month",
                unexpected_rows_query=_DISAGREEING_MONTHS,
            ),
            severity="warning",
        )
    ]
