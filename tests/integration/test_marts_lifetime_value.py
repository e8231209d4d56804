"""Lifetime value marts: what each customer and each cohort has been worth so far, and the formula LTV by cohort.

The oracle is built outside the SQL under test (tests/ltv_oracle.py), from three things the warehouse did not compute:
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

from collections import defaultdict
from datetime import date
from decimal import Decimal

import psycopg

from tests.conftest import dbt_build
from tests.ltv_oracle import (
    Customer,
    cents,
    formula_ltv,
    four_places,
    realised_margins,
    realised_world,
    segment_churn,
    trailing_margin,
)
from tests.warehouse import query


def monthly_margin(truth: dict) -> dict[date, Decimal]:
    """Month -> gross margin % = (MRR − cost of revenue) ÷ MRR (docs/metrics.md), to the 4 places the marts show
    (fct_gross_margin.gross_margin_pct): the margin an analyst reads for that month."""
    return {month: four_places((mrr - cost) / mrr) for month, (mrr, cost) in realised_margins(truth).items() if mrr}


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


# -- the settled margins' guard ---------------------------------------------------------------------------------------
def test_the_mart_refuses_settled_sums_priced_at_other_margins_than_it_reads(published_world, tmp_path):
    """int_customer_revenue keeps each customer's margin in settled months; fct_customer_lifetime_value adds the
    rest at the margins it reads. A build that refreshed the margins without int_customer_revenue (a selection
    without it) would mix two pricings: the mart fails instead (its pre-hook), and built with int_customer_revenue,
    which prices the changed month's customers again, it is the published mart again."""
    url = published_world
    # the marts after a publish are built whole once
    dbt_build(url, "+fct_customer_lifetime_value", tmp_path / "first")
    [(month, customers)] = query(
        url,
        "select month, (select count(distinct customer_key) from intermediate.int_invoices_netted as i"
        " where i.month = m.month) from intermediate.int_customer_revenue__margins as m order by month limit 1",
    )
    assert customers > 0
    with psycopg.connect(url, autocommit=True) as conn:  # as if priced before the month's margin moved
        conn.execute(
            "update intermediate.int_customer_revenue__margins set gross_margin_pct = gross_margin_pct - 0.01"
            " where month = %s",
            [month],
        )
    mart_alone = dbt_build(url, "fct_customer_lifetime_value", tmp_path / "alone", failing_models=True)
    assert mart_alone["fct_customer_lifetime_value"]["status"] == "error"

    both = dbt_build(url, "int_customer_revenue fct_customer_lifetime_value", tmp_path / "both")

    assert both["fct_customer_lifetime_value"]["status"] == "success"
    rebuilt = "select * from marts_build.fct_customer_lifetime_value"
    published = "select * from marts.fct_customer_lifetime_value"
    assert query(url, f"({rebuilt} except all {published}) union all ({published} except all {rebuilt})") == []
    assert query(url, "select count(*) from marts_build.fct_customer_lifetime_value")[0][0] > 0
