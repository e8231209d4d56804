"""The finance marts on the shared dirty world: the cost ledger, CAC (paid and blended) and the cost to retain.

The planted cost ledger must reach the marts to the cent; paid CAC per channel and month must be the realised
spend over the realised new customers (truth.json), to the cent, and the year's new customers what the planted CAC
makes likely; blended CAC and the retention cost components are recomputed straight from the export files, here and in
tests/finance_oracle.py (never from staging or mart SQL), and must match the marts.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from tests.exports import read_jsonl
from tests.finance_oracle import cents, csv_records, month_of, norm, retention_components_from_exports
from tests.warehouse import query


def ledger_from_exports(exports: Path) -> dict[tuple[date, str], Decimal]:
    """team_costs.csv summed per month and team, one row per (month, team, cost type): the latest wins."""
    latest: dict[tuple[date, str, str], Decimal] = {}
    for row in csv_records(exports / "crm", "team_costs.csv", ("cost_month", "team", "cost_type", "amount")):
        key = (month_of(date.fromisoformat(row["cost_month"])), row["team"].strip().lower(), row["cost_type"].lower())
        latest[key] = Decimal(row["amount"])
    ledger: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for (month, team, _), amount in latest.items():
        ledger[(month, team)] += amount
    return ledger


def paid_spend_from_exports(exports: Path) -> dict[date, Decimal]:
    latest: dict[tuple[str, str, str], Decimal] = {}
    for row in csv_records(exports / "crm", "marketing_spend.csv", ("spend_date", "channel", "spend", "currency")):
        key = (row["spend_date"], row["channel"].strip().upper(), row["campaign_id"].strip().lower())
        latest[key] = Decimal(row["spend"])
    spend: dict[date, Decimal] = defaultdict(Decimal)
    for (day, _, _), amount in latest.items():
        spend[month_of(date.fromisoformat(day))] += amount
    return spend


def new_customers_from_exports(exports: Path) -> dict[date, int]:
    """Billing customers by the month of their first paid invoice: each generated customer pays through one."""
    first_paid: dict[str, datetime] = {}
    for invoice in read_jsonl(exports / "billing", "invoices").values():
        if norm(invoice["status"]) == "paid" and (invoice.get("amount_paid") or 0) > 0:
            created = datetime.fromtimestamp(invoice["created"], UTC)
            customer = invoice["customer"]
            first_paid[customer] = min(created, first_paid.get(customer, created))
    counts: dict[date, int] = defaultdict(int)
    for moment in first_paid.values():
        counts[month_of(moment)] += 1
    return counts


def test_cost_ledger_in_the_marts_equals_the_planted_amounts(marts_world):
    """Every planted month × team amount reaches the marts to the cent through the dirty export (duplicates,
    a late file, broken lines): acquisition and retention teams in fct_acquisition_vs_retention_cost, the
    platform's cost of revenue in fct_gross_margin, and no sales and marketing cost lost by the channel
    allocation of fct_acquisition_cost."""
    url, _, truth = marts_world
    planted = {
        (date.fromisoformat(month), team): cents(Decimal(str(amount)))
        for month, teams in truth["planted"]["crm"]["team_costs"]["by_month"].items()
        for team, amount in teams.items()
    }
    months = sorted({month for month, _ in planted})
    assert len(months) == truth["planted"]["crm"]["team_costs"]["months"] == 12
    totals = {
        month: (sm, support, success)
        for month, sm, support, success in query(
            url,
            "select month, sales_marketing_cost, support_cost, customer_success_cost"
            " from marts.fct_acquisition_vs_retention_cost where segment = 'all'",
        )
    }
    margin = dict(query(url, "select month, cost_of_revenue_usd from marts.fct_gross_margin"))
    allocated = dict(
        query(url, "select month, sum(allocated_sales_marketing_cost) from marts.fct_acquisition_cost group by 1")
    )
    for month in months:
        sales_marketing = planted[(month, "sales")] + planted[(month, "marketing")]
        assert totals[month] == (sales_marketing, planted[(month, "support")], planted[(month, "customer_success")])
        assert margin[month] == planted[(month, "platform")], month
        assert allocated[month] == sales_marketing, f"{month}: channels add up to the month's ledger cost"


def test_paid_cac_per_channel_month_is_the_realised_spend_over_the_realised_new_customers(marts_world):
    """Every channel-month of fct_acquisition_cost has the ad spend and the new customers the generator realised
    (truth.json → realised.crm, the merchant's months), and paid CAC = spend ÷ new customers rounded half up to
    the cent (0 for organic channels, null without customers), exactly.

    No planted defect may change them: the spend export's defects are extra lines (exact duplicates, a copy with
    the channel or campaign in other case or spaces, rows cut short, which the loader rejects) or lines moved to a
    late file, all of which staging collapses per day, channel and campaign (docs/sources/crm.md), and spend is in
    USD; a billing customer exported without its CRM id must still be credited to its company's channel, found by
    contact email or domain (docs/metrics.md, Identity). So no channel-month is exempt, and no customer is
    UNKNOWN."""
    url, _, truth = marts_world
    realised = truth["realised"]["crm"]
    mart = {
        (month, channel): (spend, customers, cac)
        for month, channel, spend, customers, cac in query(
            url,
            "select month, channel, spend, new_customers, cac from marts.fct_acquisition_cost"
            " where channel <> 'UNALLOCATED'",
        )
    }
    expected = {}
    for channel in {*realised["paid_spend"], *realised["new_customers"]}:
        for month in {*realised["paid_spend"].get(channel, {}), *realised["new_customers"].get(channel, {})}:
            spend = cents(Decimal(str(realised["paid_spend"].get(channel, {}).get(month, 0))))
            customers = realised["new_customers"].get(channel, {}).get(month, 0)
            expected[(date.fromisoformat(month), channel)] = (
                spend,
                customers,
                cents(spend / customers) if customers else None,
            )
    assert {key: row for key, row in mart.items() if row != expected.get(key, (0, 0, None))} == {}
    assert set(expected) <= set(mart)
    assert sum(customers for _, customers, _ in mart.values()) == truth["customers"]
    assert sum(1 for spend, customers, _ in expected.values() if spend and customers) > 40, "paid CAC is compared"


def test_new_customers_per_channel_are_what_the_planted_cac_makes_likely(marts_world):
    """A paid channel's new customers arrive day by day, Poisson with mean spend ÷ true_cac, so over the year they
    are Poisson with mean μ = the year's realised spend ÷ the planted CAC; an organic channel's with mean
    μ = its planted daily customers × the days. The count must lie within 3√μ of μ (a 0.3% false alarm per
    channel). With seed 2024: PAID_SEARCH 124 against μ = 103.7 ± 30.6 (the largest, 2.0 σ), PAID_SOCIAL 51
    against 51.9 ± 21.6, EMAIL_MARKETING 54 against 52.1 ± 21.7, OFFLINE 57 against 52.5 ± 21.7, ORGANIC_SEARCH 84
    against 69.6 ± 25.0. Each count here is the mart's, which the test above shows is the realised one."""
    url, _, truth = marts_world
    days = (date.fromisoformat(truth["end"]) - date.fromisoformat(truth["start"])).days
    measured = {
        channel: (spend, customers)
        for channel, spend, customers in query(
            url, "select channel, sum(spend), sum(new_customers) from marts.fct_acquisition_cost group by 1"
        )
    }
    for channel in truth["truth"]["channels"]:
        spend, customers = measured[channel["name"]]
        if channel["true_cac"]:
            mean = float(spend) / channel["true_cac"]
        else:
            assert spend == 0, channel["name"]
            mean = channel["organic_daily_customers"] * days
        assert abs(customers - mean) <= 3 * math.sqrt(mean), (channel["name"], customers, mean)


def test_blended_cac_is_all_sales_and_marketing_cost_over_all_new_customers(marts_world):
    """Per month and over the year, the channels of fct_acquisition_cost add up to docs/metrics.md's blended CAC:
    (ad spend + the sales and marketing ledger) ÷ all new customers, recomputed from marketing_spend.csv,
    team_costs.csv and the first paid invoice of each billing customer. The 'all' row of
    fct_acquisition_vs_retention_cost shows the same CAC."""
    url, exports, _ = marts_world
    spend, ledger, new = (
        paid_spend_from_exports(exports),
        ledger_from_exports(exports),
        new_customers_from_exports(exports),
    )
    cost = {month: spend[month] + ledger[(month, "sales")] + ledger[(month, "marketing")] for month in spend}
    mart = {
        month: (total, customers)
        for month, total, customers in query(
            url,
            "select month, sum(spend + allocated_sales_marketing_cost), sum(new_customers)"
            " from marts.fct_acquisition_cost group by 1",
        )
    }
    assert set(mart) == set(cost)
    for month, (total, customers) in mart.items():
        assert (total, customers) == (cost[month], new.get(month, 0)), month
    year_cac = sum(cost.values()) / sum(new.values())
    mart_cac = sum(t for t, _ in mart.values()) / sum(n for _, n in mart.values())
    assert cents(mart_cac) == cents(year_cac)
    segment_all = dict(
        query(url, "select month, cac from marts.fct_acquisition_vs_retention_cost where segment = 'all'")
    )
    for month in mart:
        assert segment_all[month] == cents(cost[month] / new[month]), month


def test_retention_cost_components_equal_sums_from_the_export_files(marts_world):
    """Each month's retention cost is the support and customer-success ledger (team_costs.csv), the discounts
    retention coupons took off issued invoices (coupons.jsonl, invoices.jsonl, at the invoice's FX rate) and
    the service-credit credit notes (credit_notes.jsonl, at the credited invoice's rate), to the cent."""
    url, exports, _ = marts_world
    ledger = ledger_from_exports(exports)
    discounts, credits = retention_components_from_exports(exports)
    assert sum(discounts.values()) > 0 and sum(credits.values()) > 0, "the world plants save offers and credits"
    mart = query(
        url,
        "select month, support_cost, customer_success_cost, retention_discounts, service_credits, retention_cost"
        " from marts.fct_acquisition_vs_retention_cost where segment = 'all' order by month",
    )
    for month, support, success, discount, credit, total in mart:
        expected = (
            ledger[(month, "support")],
            ledger[(month, "customer_success")],
            discounts.get(month, Decimal(0)),
            credits.get(month, Decimal(0)),
        )
        assert (support, success, discount, credit) == expected, month
        assert total == sum(expected), month
    assert {m for m, *_ in mart} >= set(discounts) | set(credits), "no discount or credit falls outside the months"


def test_cost_to_retain_divides_retention_cost_by_customers_retained(marts_world):
    """Cost to retain = retention cost ÷ customers active at the start and the end of the month; the first
    month has nobody active at its start, so no cost to retain, and later months retain most customers."""
    url, _, _ = marts_world
    mart = query(
        url,
        "select month, retention_cost, customers_retained, cost_to_retain, cac, acquisition_to_retention_cost_ratio"
        " from marts.fct_acquisition_vs_retention_cost where segment = 'all' order by month",
    )
    first, *later = mart
    assert first[2] == 0 and first[3] is None and first[5] is None
    for month, retention_cost, retained, cost_to_retain, cac, ratio in later:
        assert retained > 0, month
        assert cost_to_retain == cents(retention_cost / retained), month
        assert abs(ratio - cac / cost_to_retain) <= Decimal("0.01") + cac / cost_to_retain * Decimal("0.001"), month
