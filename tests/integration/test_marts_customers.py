"""Customer marts: one row per paying customer, lifetime revenue that ties to the billing exports, a health score
whose bands separate churners, and LTV:CAC ordered as the planted acquisition costs imply.

Every test reads the shared `marts_world` (400 customers, 12 months, seed 2024, dirty) as published to `marts`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from itertools import combinations
from pathlib import Path

from tests.exports import rate_on, read_fx, read_jsonl
from tests.warehouse import query

CENT = Decimal("0.01")
PAID_CHANNELS = ("PAID_SEARCH", "PAID_SOCIAL", "EMAIL_MARKETING", "OFFLINE")


def exported_lifetime_revenue(exports: Path) -> dict[str, Decimal]:
    """Paid invoices less refunds per billing customer, USD, straight from the Stripe-shaped export files.

    Each invoice converts at its day's rate (or the latest earlier), its refunds at the same rate, each
    rounded to the cent; invoices in a currency with no rate are left out, as the mart leaves them out.
    """
    folder = exports / "billing"
    invoices = read_jsonl(folder, "invoices")
    charges = read_jsonl(folder, "charges")
    fx = read_fx(folder)
    refunded: dict[str, Decimal] = defaultdict(Decimal)
    for refund in read_jsonl(folder, "refunds").values():
        if str(refund.get("status", "")).strip().lower() != "succeeded":
            continue
        invoice_id = (refund.get("metadata") or {}).get("invoice") or charges.get(refund.get("charge"), {}).get(
            "invoice"
        )
        refunded[invoice_id] += Decimal(refund["amount"]) / 100
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    for invoice_id, invoice in invoices.items():
        paid = Decimal(invoice.get("amount_paid") or 0) / 100
        if str(invoice.get("status", "")).strip().lower() != "paid" or paid <= 0:
            continue
        created = datetime.fromtimestamp(invoice["created"], UTC).date()
        rate = rate_on(fx, str(invoice["currency"]).strip().upper(), created)
        if rate is None:
            continue
        back = min(refunded.get(invoice_id, Decimal(0)), paid)
        revenue[invoice["customer"]] += (paid * rate).quantize(CENT, ROUND_HALF_UP) - (back * rate).quantize(
            CENT, ROUND_HALF_UP
        )
    return revenue


def test_every_paying_customer_appears_once(marts_world):
    """dim_customers holds each paying customer exactly once, as many as the generator made pay (exact)."""
    url, _, truth = marts_world
    rows, keys = query(url, "select count(*), count(distinct customer_key) from marts.dim_customers")[0]
    assert rows == keys == truth["customers"]


def test_new_customers_match_acquisition_cost(marts_world):
    """The customers finance divides CAC by are the customers in dim_customers, per month and channel (exact)."""
    url, _, _ = marts_world
    acquired = dict(
        (((month, channel), customers))
        for month, channel, customers in query(
            url,
            "select month, channel, new_customers from marts.fct_acquisition_cost where new_customers > 0",
        )
    )
    dim = dict(
        (((month, channel), customers))
        for month, channel, customers in query(
            url,
            "select cohort_month, acquisition_channel, count(*)::integer from marts.dim_customers group by 1, 2",
        )
    )
    assert dim == acquired


def test_lifetime_revenue_ties_to_billing_exports(marts_world):
    """Lifetime revenue per customer equals paid invoices less refunds recomputed from the export files, FX from
    fx_rates, within a cent per customer: both sides round each invoice and refund to the cent, so only the
    order of rounding could differ."""
    url, exports, _ = marts_world
    by_billing_customer = exported_lifetime_revenue(exports)
    expected: dict[str, Decimal] = defaultdict(Decimal)
    mart: dict[str, Decimal] = {}
    for customer_key, billing_ids, revenue in query(
        url, "select customer_key, billing_customer_ids, lifetime_revenue_usd from marts.dim_customers"
    ):
        mart[customer_key] = revenue
        for billing_id in billing_ids:
            expected[customer_key] += by_billing_customer.get(billing_id, Decimal(0))
    off = {key: (mart[key], expected[key]) for key in mart if abs(mart[key] - expected[key]) > CENT}
    assert not off, f"{len(off)} customers differ, e.g. {list(off.items())[:5]}"
    assert sum(mart.values()) > 0


def test_at_risk_customers_churn_more_than_the_others(marts_world):
    """Customers scored at_risk churn the following month more often than those on watch and healthy ones. The
    generator doubles the churn hazard of a detractor and multiplies it by 1.5 per SLA breach, the signals that
    put a customer at risk. Watch is not compared with healthy: its signals (a passive answer, a contraction, a
    failed charge, one breach) carry no planted hazard but the breach, and segments whose base churn differs
    eightfold weigh more than that in a pooled rate."""
    url, _, _ = marts_world
    rates = dict(query(url, "select health_band, churn_rate from marts.fct_churn_by_health_band"))
    assert rates["at_risk"] > max(rates["watch"], rates["healthy"]), rates
    assert rates["healthy"] > 0, rates


def test_ltv_to_cac_follows_planted_cac(marts_world):
    """A channel whose planted CAC is at least twice another's has the higher LTV:paid CAC (formula LTV per
    customer ÷ ad spend per customer, pooled over its cohorts). Customer value does not depend on the channel
    in the generator, so the cost decides; pairs closer than 2× (PAID_SEARCH 1500 vs PAID_SOCIAL 2000) are
    within the noise of ~50-120 customers a channel and are not compared."""
    url, _, truth = marts_world
    true_cac = {c["name"]: c["true_cac"] for c in truth["truth"]["channels"] if c["true_cac"]}
    ratio = {}
    for channel, customers, spend, ltv in query(
        url,
        """
        select acquisition_channel, sum(customers), sum(paid_spend_usd),
            sum(customers * formula_ltv_per_customer_usd) / sum(customers) filter (
                where formula_ltv_per_customer_usd is not null
            )
        from marts.fct_ltv_cac
        where customers > 0
        group by acquisition_channel
        """,
    ):
        if channel in PAID_CHANNELS:
            ratio[channel] = ltv / (spend / customers)
    assert set(ratio) == set(PAID_CHANNELS)
    for cheap, dear in combinations(sorted(PAID_CHANNELS, key=true_cac.get), 2):
        if true_cac[dear] >= 2 * true_cac[cheap]:
            assert ratio[cheap] > ratio[dear], (cheap, dear, ratio)
