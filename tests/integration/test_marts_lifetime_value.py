"""Lifetime value marts: what each customer and each cohort has been worth so far, and the formula LTV by cohort.

The oracle is built here, outside the SQL under test, from three things the warehouse did not compute:
- truth.json's realised section (docs/sources.md): each billing customer's true CRM company, each subscription's
  USD MRR at every month-end, the new customers per channel and month; and its planted cost ledger, for the
  platform team's cost (cost of revenue) per month;
- the billing export files as Stripe wrote them (invoices, refunds, charges, FX rates), for the money actually
  paid, which truth.json does not record per invoice;
- the acquisition channel each company's CRM record carries (companies.csv, HubSpot's hs_analytics_source).
The definitions are docs/metrics.md's (Lifetime value; Recurring revenue; Acquisition), with the column
definitions in dbt_project/models/marts/customers/_customers__models.yml where docs/metrics.md leaves a choice:
each is said where it is used.

Every test reads the shared `marts_world` (400 customers, 12 months, seed 2024, dirty exports), as published.
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
from tests.integration.test_marts_revenue import (
    realised_customers,
    realised_retention,
    realised_total_mrr,
    true_customer_key,
)
from tests.warehouse import query

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


def monthly_margin(truth: dict) -> dict[date, Decimal]:
    """Month -> gross margin % = (MRR − cost of revenue) ÷ MRR (docs/metrics.md), to the 4 places the marts show
    (fct_gross_margin.gross_margin_pct): the margin an analyst reads for that month."""
    return {month: four_places((mrr - cost) / mrr) for month, (mrr, cost) in realised_margins(truth).items() if mrr}


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


def historical_ltv(customer: Customer, margins: dict[date, Decimal]) -> Decimal:
    """docs/metrics.md: gross margin earned so far. It says "lifetime revenue × gross margin %" without saying
    which month's margin; _customers__models.yml settles it: each invoice's net revenue × the gross margin % of
    the invoice's month, summed, shown to the cent."""
    return cents(sum((net * margins[month] for month, net in customer.invoices), Decimal(0)))


# -- fct_customer_lifetime_value: the historical columns ----------------------------------------------------------
def cohorts_of(customers: dict[str, Customer]) -> dict[tuple[date, str], list[Customer]]:
    """The oracle's customers by (cohort month, channel), the grain of fct_cohort_lifetime_value."""
    cohorts: dict[tuple[date, str], list[Customer]] = defaultdict(list)
    for c in customers.values():
        cohorts[(c.cohort_month, c.channel)].append(c)
    return cohorts


def cohort_mart(url: str, columns: str) -> dict[tuple[date, str], tuple]:
    """`columns` of marts.fct_cohort_lifetime_value by (cohort month, channel)."""
    return {
        (month, channel): tuple(rest)
        for month, channel, *rest in query(
            url, f"select cohort_month, acquisition_channel, {columns} from marts.fct_cohort_lifetime_value"
        )
    }


def test_each_customers_lifetime_revenue_and_historical_ltv_are_its_paid_invoices_at_their_months_margin(
    marts_world,
):
    """Every true company that paid is one row; its lifetime revenue is its paid invoices net of refunds in USD
    (exports, FX of the invoice's day), its historical LTV each invoice's net revenue × the realised gross margin
    of the invoice's month ((MRR − platform cost) ÷ MRR, truth.json), and has_unconverted_invoices marks exactly
    the customers with a paid invoice in a currency that has no rate. Exact, to the cent."""
    url, exports, truth = marts_world
    customers, margins = realised_world(exports, truth), monthly_margin(truth)
    mart = {
        key: (revenue, ltv, unconverted)
        for key, revenue, ltv, unconverted in query(
            url,
            "select customer_key, lifetime_revenue_usd, historical_ltv_usd, has_unconverted_invoices"
            " from marts.fct_customer_lifetime_value",
        )
    }
    expected = {
        key: (customer.lifetime_revenue, historical_ltv(customer, margins), customer.unconverted)
        for key, customer in customers.items()
    }
    assert len(mart) == truth["customers"]
    assert set(mart) == set(expected)
    assert {key: (row, expected[key]) for key, row in mart.items() if row != expected[key]} == {}
    assert sum(1 for *_, unconverted in expected.values() if unconverted) > 0, "the world plants unknown currencies"
    assert len(set(margins.values())) > 6, "months differ in margin, so the month each invoice takes it from matters"


def test_each_customers_cohort_channel_status_and_months_paid_are_the_realised_ones(marts_world):
    """Cohort month = month of the first paid invoice, channel = the company's CRM original source, status active
    when the realised MRR at the last month-end is > 0, observed lifetime = month-ends with realised MRR > 0
    (docs/metrics.md; _customers__models.yml): the keys the cohort mart groups and counts by."""
    url, exports, truth = marts_world
    customers = realised_world(exports, truth)
    last = max(month for c in customers.values() for month in c.month_end_mrr)
    mart = {
        key: tuple(rest)
        for key, *rest in query(
            url,
            "select customer_key, cohort_month, acquisition_channel, customer_status, observed_lifetime_months"
            " from marts.fct_customer_lifetime_value",
        )
    }
    expected = {
        key: (
            c.cohort_month,
            c.channel,
            "active" if c.month_end_mrr.get(last, 0) > 0 else "churned",
            len(c.paying_month_ends),
        )
        for key, c in customers.items()
    }
    assert {key: (row, expected.get(key)) for key, row in mart.items() if row != expected.get(key)} == {}
    assert set(mart) == set(expected)
    assert 0 < sum(1 for row in expected.values() if row[2] == "churned") < len(expected)


# -- fct_cohort_lifetime_value ------------------------------------------------------------------------------------
def test_cohorts_are_the_realised_new_customers_per_channel_and_month(marts_world):
    """One row per cohort month and channel that won a customer, holding exactly as many customers as
    truth.json's realised new customers of that channel and month (docs/metrics.md: acquisition month = month of
    the first paid invoice), and as many still active as have realised MRR > 0 at the last month-end."""
    url, exports, truth = marts_world
    realised = truth["realised"]["crm"]["new_customers"]
    expected_sizes = {
        (date.fromisoformat(month), channel): count
        for channel, months in realised.items()
        for month, count in months.items()
        if count
    }
    mart = cohort_mart(url, "customers, active_customers")
    assert {key: customers for key, (customers, _) in mart.items()} == expected_sizes

    customers = realised_world(exports, truth)
    last = max(month for c in customers.values() for month in c.month_end_mrr)
    active = {
        key: sum(c.month_end_mrr.get(last, 0) > 0 for c in members) for key, members in cohorts_of(customers).items()
    }
    assert {key: n for key, (_, n) in mart.items()} == {key: active.get(key, 0) for key in expected_sizes}


def test_cohort_revenue_and_historical_ltv_are_their_customers_realised_sums(marts_world):
    """Each cohort's lifetime revenue and historical LTV are the sums over its customers of the values the
    first test pins (the cohort mart is "fct_customer_lifetime_value summed over the cohort",
    _customers__models.yml, so the customers' cent values are what is summed), and historical LTV per customer
    is that sum ÷ the cohort's customers, to the cent. The customers are grouped by the oracle's own cohort and
    channel, which must reproduce truth.json's realised new customers per channel and month."""
    url, exports, truth = marts_world
    customers, margins = realised_world(exports, truth), monthly_margin(truth)
    cohorts = cohorts_of(customers)
    realised = truth["realised"]["crm"]["new_customers"]
    assert {key: len(members) for key, members in cohorts.items()} == {
        (date.fromisoformat(month), channel): count
        for channel, months in realised.items()
        for month, count in months.items()
        if count
    }, "the oracle's cohorts are the realised ones"
    expected = {}
    for key, members in cohorts.items():
        ltv = sum((historical_ltv(c, margins) for c in members), Decimal(0))
        expected[key] = (sum((c.lifetime_revenue for c in members), Decimal(0)), ltv, cents(ltv / len(members)))
    mart = cohort_mart(url, "lifetime_revenue_usd, historical_ltv_usd, historical_ltv_per_customer_usd")
    assert set(mart) == set(expected)
    assert {key: (row, expected[key]) for key, row in mart.items() if row != expected[key]} == {}


def test_cohort_formula_ltv_is_the_mean_of_its_customers_arpa_times_margin_over_segment_churn(marts_world):
    """Formula LTV (docs/metrics.md) = ARPA × gross margin % ÷ monthly logo churn, per customer: its own mean
    month-end MRR while paying, the company's margin over the latest 12 months, its segment's churn pooled over
    the latest 12 complete months, each shown as the customer mart shows it (cents, 4 places) and the formula
    applied to those shown inputs (_customers__models.yml: "arpa_usd × gross_margin_pct ÷
    monthly_logo_churn_rate, rounded to cents"), all from the realised MRR and ledger. Per cohort: the mean ARPA
    and the mean formula LTV of the customers that have one, to the cent, the trailing margin, and how many have
    one (every segment lost customers in this world, so all of them)."""
    url, exports, truth = marts_world
    customers = realised_world(exports, truth)
    margin, churn = trailing_margin(truth), segment_churn(truth)
    assert set(churn) == {"smb", "mid_market", "enterprise"}
    cohorts = cohorts_of(customers)
    expected = {}
    for key, members in cohorts.items():
        arpas = [c.arpa for c in members if c.arpa is not None]
        formula = [formula_ltv(c.arpa, margin, churn[c.segment]) for c in members if c.arpa is not None]
        expected[key] = (
            cents(sum(arpas, Decimal(0)) / len(arpas)) if arpas else None,
            margin,
            len(formula),
            cents(sum(formula, Decimal(0)) / len(formula)) if formula else None,
        )
    mart = cohort_mart(url, "arpa_usd, gross_margin_pct, customers_with_formula_ltv, formula_ltv_per_customer_usd")
    assert set(mart) == set(expected)
    assert {key: (row, expected[key]) for key, row in mart.items() if row != expected[key]} == {}
