"""The realised revenue truth: each customer's month-end MRR and the month's retention, read from truth.json.

truth.json records each subscription's USD MRR at every month-end by docs/metrics.md's definition, from the
simulated lives (realised.billing.subscriptions.*.month_end_mrr), never from the export files or the warehouse's
SQL; NRR, GRR and logo churn are computed here from those month-ends by the definitions in docs/metrics.md.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

FOUR_PLACES = Decimal("0.0001")  # the marts' ratios are numeric(8, 4)
SEGMENTS = ("smb", "mid_market", "enterprise")


# -- the realised truth -------------------------------------------------------------------------------------------
def true_customer_key(truth: dict, billing_customer: str) -> str:
    """The customer key of a billing customer's true CRM company (docs/metrics.md: crm:<company id>)."""
    return f"crm:{truth['realised']['billing']['customer_company'][billing_customer]}"


def realised_subscriptions(truth: dict) -> list[dict]:
    return list(truth["realised"]["billing"]["subscriptions"].values())


def realised_total_mrr(truth: dict) -> dict[date, Decimal]:
    """Month -> the whole book's realised MRR at the month's end: every subscription's month-end MRR summed."""
    total: dict[date, Decimal] = defaultdict(Decimal)
    for subscription in realised_subscriptions(truth):
        for month, mrr in subscription["month_end_mrr"].items():
            total[date.fromisoformat(month)] += Decimal(str(mrr))
    return total


def realised_customers(truth: dict) -> dict[str, tuple[str, dict[date, Decimal]]]:
    """Customer key -> (segment, month -> MRR at the month's end), from the sign-up's month through the export's
    last month: truth.json lists a subscription's month-ends until it churns, 0 after that."""
    months = sorted({date.fromisoformat(m) for s in realised_subscriptions(truth) for m in s["month_end_mrr"]})
    customers: dict[str, tuple[str, dict[date, Decimal]]] = {}
    for subscription in realised_subscriptions(truth):
        listed = subscription["month_end_mrr"]
        segment, series = customers.setdefault(
            true_customer_key(truth, subscription["customer"]), (subscription["segment"], defaultdict(Decimal))
        )
        for month in months:
            if month.isoformat() >= min(listed):
                series[month] += Decimal(str(listed.get(month.isoformat(), 0)))
    return customers


def realised_retention(truth: dict) -> dict[tuple[date, str], tuple]:
    """(month, segment or 'all') -> (opening MRR, closing MRR, customers at start, customers lost, NRR, GRR, logo
    churn), by docs/metrics.md: over the customers active at the opening (MRR > 0 at the previous month's end),
    NRR = their closing MRR ÷ their opening MRR, GRR the same with each closing capped at its opening, logo churn =
    those at 0 at the month's end ÷ those active at the start; ratios null without an opening, rounded half up to
    the marts' 4 places. Closing MRR is the whole book's (new and reactivated customers included)."""

    def ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
        return (numerator / denominator).quantize(FOUR_PLACES, ROUND_HALF_UP) if denominator else None

    customers = realised_customers(truth)
    months = sorted({month for _, series in customers.values() for month in series})
    result = {}
    for previous, month in zip([None, *months], months, strict=False):
        for segment in (*SEGMENTS, "all"):
            rows = [
                (series.get(previous, Decimal(0)), series[month])
                for customer_segment, series in customers.values()
                if month in series and segment in ("all", customer_segment)
            ]
            if not rows:
                continue
            active = [(opening, closing) for opening, closing in rows if opening > 0]
            opening = sum((o for o, _ in active), Decimal(0))
            lost = sum(1 for _, closing in active if closing == 0)
            result[(month, segment)] = (
                opening,
                sum((closing for _, closing in rows), Decimal(0)),
                len(active),
                lost,
                ratio(sum((c for _, c in active), Decimal(0)), opening),
                ratio(sum((min(o, c) for o, c in active), Decimal(0)), opening),
                ratio(Decimal(lost), Decimal(len(active))),
            )
    return result
