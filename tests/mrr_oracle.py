"""The MRR oracle for generated worlds: the realised MRR truth.json records, read in any calendar.

The generator records each subscription's USD MRR (docs/metrics.md: the plan's monthly value, yearly plans ÷ 12,
after recurring discounts) at every instant it changed, straight from the simulated lives (truth.json →
realised.billing.subscriptions.*.mrr_changes). The MRR at any month's last instant, in any time zone or up to a
reporting date, is the latest change before that instant; the movement follows fct_mrr_movements' documented
classes. No SQL rule of the warehouse is restated here, and nothing is read from the export files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tealeaves.generate import generate
from tealeaves.generate.calendar import MerchantClock, add_months
from tests.warehouse import query

Row = tuple[str, date, Decimal]  # (movement type, cohort month, closing MRR), keyed by (customer key, month)
Changes = list[tuple[datetime, Decimal]]  # (UTC instant, MRR from that instant on), oldest first


@dataclass
class GeneratedWorld:
    exports: Path
    truth: dict

    def mrr_changes(self) -> dict[str, Changes]:
        """Billing customer id -> its subscription's realised MRR changes (one subscription per customer)."""
        changes: dict[str, Changes] = {}
        for subscription in self.truth["realised"]["billing"]["subscriptions"].values():
            assert subscription["customer"] not in changes, "the generator gives each customer one subscription"
            changes[subscription["customer"]] = [
                (datetime.fromisoformat(moment), Decimal(str(mrr)))
                for moment, mrr in subscription["mrr_changes"].items()
            ]
        return changes


def generate_world(out: Path, **world: object) -> GeneratedWorld:
    """Generate a world; its truth.json carries the realised MRR the oracle reads."""
    return GeneratedWorld(out, generate(out, **world))


def mrr_before(changes: Changes, at: datetime) -> Decimal:
    """MRR at the instant just before `at`: the latest change before it (0 before the sign-up)."""
    return next((mrr for moment, mrr in reversed(changes) if moment < at), Decimal(0))


def classify(opening: Decimal, closing: Decimal, had_mrr_before: bool) -> str:
    """fct_mrr_movements' documented classes of a month's move from opening to closing MRR."""
    if opening == 0 and closing > 0:
        return "reactivation" if had_mrr_before else "new"
    if opening > 0 and closing == 0:
        return "churn"
    if closing > opening:
        return "expansion"
    if closing < opening:
        return "contraction"
    return "retained" if closing > 0 else "inactive"


def month_ends(world: GeneratedWorld, zone: str, as_of: date | None = None) -> dict[str, list[tuple[date, Decimal]]]:
    """Billing customer -> its MRR at the end of every month of `zone`'s calendar from its sign-up to the export's
    last month; a month-end after the export's end is read at the export's end (nothing later is in the export).
    With a reporting date, the data ends with that day instead."""
    clock, merchant = MerchantClock(zone), MerchantClock(world.truth["truth"]["timezone"])
    export_end = merchant.at(date.fromisoformat(world.truth["end"]))
    if as_of is not None:
        export_end = min(export_end, merchant.at(as_of + timedelta(days=1)))
    last_month = clock.day_of(export_end - timedelta(seconds=1)).replace(day=1)
    series = {}
    for customer, changes in world.mrr_changes().items():
        month, months = clock.day_of(changes[0][0]).replace(day=1), []
        while month <= last_month:
            months.append((month, mrr_before(changes, min(clock.at(add_months(month, 1)), export_end))))
            month = add_months(month, 1)
        series[customer] = months
    return series


def oracle(
    world: GeneratedWorld, keys: dict[str, str], zone: str, as_of: date | None = None
) -> dict[tuple[str, date], Row]:
    """Each customer-month from the customer's first month with MRR at its end through the export's last month
    (or the reporting date's), in the calendar of `zone`: the movement, the cohort (that first month) and the
    month-end MRR the truth says."""
    rows: dict[tuple[str, date], Row] = {}
    for customer, series in month_ends(world, zone, as_of).items():
        paying = [month for month, mrr in series if mrr > 0]
        opening, had_mrr = Decimal(0), False
        for month, closing in series:
            if paying and month >= paying[0]:
                rows[(keys[customer], month)] = (classify(opening, closing, had_mrr), paying[0], closing)
                had_mrr, opening = had_mrr or closing > 0, closing
    return rows


def crossing_customers(world: GeneratedWorld, keys: dict[str, str]) -> set[str]:
    """Customers with an MRR change (sign-up, plan change, discount, churn) whose month differs between the
    merchant's calendar and UTC: only they can have a month-end MRR that differs between the two calendars."""
    merchant = MerchantClock(world.truth["truth"]["timezone"])
    return {
        keys[customer]
        for customer, changes in world.mrr_changes().items()
        if any(merchant.day_of(moment).replace(day=1) != moment.date().replace(day=1) for moment, _ in changes)
    }


# -- the warehouse ----------------------------------------------------------------------------------------------
def movements(url: str, schema: str = "marts_build") -> dict[tuple[str, date], Row]:
    return {
        (key, month): (movement, cohort, closing)
        for key, month, movement, cohort, closing in query(
            url,
            f"select customer_key, month, movement_type, cohort_month, closing_mrr from {schema}.fct_mrr_movements",
        )
    }


def billing_customer_keys(url: str) -> dict[str, str]:
    """Billing customer id -> customer key; the oracle speaks of billing customers, the marts of customer keys."""
    pairs = query(
        url,
        "select source_id, customer_key from intermediate.int_customer_identity"
        " where source_system = 'billing_customer'",
    )
    keys = dict(pairs)
    assert len(set(keys.values())) == len(keys) == len(pairs), "identity must map billing customers one to one here"
    return keys


def differences(mart: dict[tuple[str, date], Row], expected: dict[tuple[str, date], Row]) -> list[tuple]:
    """Customer-months present on one side only, or whose movement, cohort or month-end MRR differ at all: the
    truth is rounded to the cent once per subscription, as the mart rounds it."""
    found = []
    for key in sorted(mart.keys() | expected.keys()):
        got, want = mart.get(key), expected.get(key)
        if got != want:
            found.append((key, got, want))
    return found
