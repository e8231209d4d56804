"""The lifetime value oracle: what each customer has been worth so far, and the inputs of formula LTV.

Built outside the SQL under test from truth.json's realised section (each billing customer's true CRM company,
each subscription's USD MRR at every month-end) and its planted cost ledger (the platform team's cost of revenue),
the billing export files as Stripe wrote them (invoices, refunds, charges, FX rates) and the acquisition channel
each company's CRM record carries. The definitions are docs/metrics.md's, with _customers__models.yml's where
docs/metrics.md leaves a choice.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import yaml

from tests.conftest import ROOT
from tests.exports import rate_on, read_fx, read_jsonl
from tests.revenue_oracle import realised_customers, realised_retention, realised_total_mrr, true_customer_key

CENT, FOUR_PLACES = Decimal("0.01"), Decimal("0.0001")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def four_places(value: Decimal) -> Decimal:
    """A ratio as the marts show it (numeric(8, 4)), rounded half up."""
    return value.quantize(FOUR_PLACES, ROUND_HALF_UP)


def month_of(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


# -- the oracle ---------------------------------------------------------------------------------------------------
@dataclass
class Customer:
    """What the truth and the exports say of one customer (a true CRM company)."""

    segment: str
    channel: str
    cohort_month: date | None = None  # month of the first paid invoice
    invoices: list[tuple[date, Decimal]] = field(default_factory=list)  # (month, net revenue USD), converted only
    unconverted: bool = False  # a paid invoice in a currency without an FX rate
    month_end_mrr: dict[date, Decimal] = field(default_factory=dict)

    @property
    def lifetime_revenue(self) -> Decimal:
        return sum((net for _, net in self.invoices), Decimal(0))

    @property
    def paying_month_ends(self) -> list[Decimal]:
        return [mrr for mrr in self.month_end_mrr.values() if mrr > 0]

    @property
    def arpa(self) -> Decimal | None:
        """docs/metrics.md's ARPA for one customer, as _customers__models.yml places it in the formula: the
        customer's mean month-end MRR over the months it had MRR > 0, shown to the cent."""
        paying = self.paying_month_ends
        return cents(sum(paying, Decimal(0)) / len(paying)) if paying else None


def company_channels(exports: Path) -> dict[str, str]:
    """CRM company id -> its acquisition channel (docs/metrics.md: HubSpot's hs_analytics_source), from every
    companies*.csv, the late delivery read last; a row cut short or without a source is a broken copy."""
    channels: dict[str, str] = {}
    files = sorted((exports / "crm").glob("companies*.csv"), key=lambda path: "__late" in path.name)
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                company, source = (row.get("hs_object_id") or "").strip(), (row.get("hs_analytics_source") or "")
                if company and source.strip():
                    channels[company] = source.strip().upper()
    return channels


def realised_margins(truth: dict) -> dict[date, tuple[Decimal, Decimal]]:
    """Month -> (MRR, cost of revenue), USD: the realised month-end MRR of every subscription summed, and the
    platform team's planted ledger cost (docs/metrics.md, Acquisition: cost of revenue = the platform team)."""
    ledger = truth["planted"]["crm"]["team_costs"]["by_month"]
    return {
        month: (total, cents(Decimal(str(ledger.get(month.isoformat(), {}).get("platform", 0)))))
        for month, total in realised_total_mrr(truth).items()
    }


def trailing_margin(truth: dict) -> Decimal:
    """The company's gross margin % over the latest 12 months, Σ(MRR − cost) ÷ Σ MRR (_customers__models.yml)."""
    latest = sorted(realised_margins(truth).items())[-12:]
    return four_places(sum((m - c for _, (m, c) in latest), Decimal(0)) / sum((m for _, (m, _) in latest), Decimal(0)))


def ltv_max_lifetime_months() -> int:
    """The cap on formula LTV's expected lifetime: the dbt var the product ships (docs/metrics.md)."""
    project = yaml.safe_load((ROOT / "dbt_project" / "dbt_project.yml").read_text())
    return int(project["vars"]["ltv_max_lifetime_months"])


def formula_ltv(arpa: Decimal, margin: Decimal, churn: Decimal) -> Decimal:
    """ARPA × gross margin % × expected lifetime in cents (docs/metrics.md): the lifetime is 1 ÷ monthly logo
    churn, or the cap when that is longer (also for zero churn)."""
    cap = ltv_max_lifetime_months()
    return cents(arpa * margin / churn) if churn * cap > 1 else cents(arpa * margin * cap)


def segment_churn(truth: dict) -> dict[str, Decimal]:
    """Segment -> monthly logo churn pooled over the latest 12 complete months: Σ customers lost ÷ Σ customers
    active at the start (docs/metrics.md, Lifetime value), from the realised month-end MRR. The export ends on a
    month boundary here, so every month is complete."""
    assert date.fromisoformat(truth["end"]).day == 1
    retention = realised_retention(truth)
    months = sorted({month for month, _ in retention})[-12:]
    pooled: dict[str, tuple[int, int]] = {}
    for (month, segment), (_, _, at_start, lost, *_) in retention.items():
        if month in months and segment != "all":
            start, churned = pooled.get(segment, (0, 0))
            pooled[segment] = (start + at_start, churned + lost)
    return {segment: four_places(Decimal(lost) / start) for segment, (start, lost) in pooled.items() if start}


def realised_world(exports: Path, truth: dict) -> dict[str, Customer]:
    """Customer key -> Customer: the true company of each billing customer (truth.json), its channel (CRM), its
    realised month-end MRR and segment (truth.json), and each paid invoice's net revenue from the exports.

    Lifetime revenue (docs/metrics.md) = paid invoices net of refunds, converted at each invoice's FX rate: an
    invoice's amount paid and what was refunded of it (never more than was paid; a refund names its invoice, or
    its charge does) each converted at the rate of the invoice's day, or the latest earlier one, and each
    rounded to the cent as any amount of money is. A paid invoice in a currency with no rate cannot be
    converted: it is left out and flagged. Months are the merchant's, here UTC.
    """
    assert truth["truth"]["timezone"] == "UTC", "this oracle reads months in UTC"
    folder = exports / "billing"
    channels = company_channels(exports)
    customers: dict[str, Customer] = {}
    for subscription in truth["realised"]["billing"]["subscriptions"].values():
        key = true_customer_key(truth, subscription["customer"])
        assert key not in customers, "the generator gives each company one subscription"
        customers[key] = Customer(subscription["segment"], channels[key.removeprefix("crm:")])
    for key, (_, series) in realised_customers(truth).items():
        customers[key].month_end_mrr = dict(series)

    charges, fx = read_jsonl(folder, "charges"), read_fx(folder)
    refunded: dict[str, Decimal] = defaultdict(Decimal)
    for refund in read_jsonl(folder, "refunds").values():
        if str(refund.get("status", "")).strip().lower() == "succeeded":
            invoice = (refund.get("metadata") or {}).get("invoice") or charges.get(refund.get("charge"), {}).get(
                "invoice"
            )
            refunded[invoice] += Decimal(refund["amount"]) / 100
    for invoice_id, invoice in sorted(read_jsonl(folder, "invoices").items(), key=lambda item: item[1]["created"]):
        paid = Decimal(invoice.get("amount_paid") or 0) / 100
        if str(invoice.get("status", "")).strip().lower() != "paid" or paid <= 0:
            continue
        customer = customers[true_customer_key(truth, invoice["customer"])]
        created = datetime.fromtimestamp(invoice["created"], UTC)
        customer.cohort_month = customer.cohort_month or month_of(created)
        rate = rate_on(fx, str(invoice["currency"]).strip().upper(), created.date())
        if rate is None:
            customer.unconverted = True
            continue
        back = min(refunded.get(invoice_id, Decimal(0)), paid)
        customer.invoices.append((month_of(created), cents(paid * rate) - cents(back * rate)))
    return customers
