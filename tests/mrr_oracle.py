"""The MRR oracle for generated worlds: what the generator simulated, read in the merchant's calendar.

The billing periods with their planted MRR, the churn instant and the coupon each invoice carries are captured as
the billing renderer sees them; from those, the month-end MRR of each month follows from docs/metrics.md's
definition (MRR at the month's last instant, yearly plans ÷ 12, after recurring discounts) and the movement from
fct_mrr_movements' documented classes. No SQL rule of the warehouse is restated here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tealeaves.generate import generate
from tealeaves.generate.calendar import MerchantClock, add_months
from tealeaves.generate.life import Life
from tealeaves.generate.render.billing import COUPONS, BillingRenderer
from tests.exports import read_jsonl
from tests.warehouse import query

CENT = Decimal("0.01")
TOLERANCE = 2 * CENT  # each invoice is rounded to the customer currency's minor unit, the mart's MRR to the cent

Row = tuple[str, date, Decimal]  # (movement type, cohort month, closing MRR), keyed by (customer key, month)


@dataclass
class GeneratedWorld:
    exports: Path
    truth: dict
    lives: list[Life]
    coupons: dict[int, list[tuple[str, str] | None]]  # company id -> the coupon on each period's invoice


def generate_captured(out: Path, **world: object) -> GeneratedWorld:
    """Generate a world and keep the simulated lives and each invoice's coupon as the billing renderer sees them."""
    lives: list[Life] = []
    coupons: dict[int, list[tuple[str, str] | None]] = {}
    render_customer, choose_coupons = BillingRenderer.customer, BillingRenderer._coupons

    def capture_life(self: BillingRenderer, life: Life) -> None:
        lives.append(life)
        render_customer(self, life)

    def capture_coupons(self: BillingRenderer, life: Life) -> list[tuple[str, str] | None]:
        chosen = choose_coupons(self, life)
        coupons[life.company_id] = chosen
        return chosen

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BillingRenderer, "customer", capture_life)
        patch.setattr(BillingRenderer, "_coupons", capture_coupons)
        truth = generate(out, **world)
    return GeneratedWorld(out, truth, lives, coupons)


# -- the oracle: the simulated lives, read in one calendar ----------------------------------------------------
def planted_mrr(life: Life, coupons: list[tuple[str, str] | None], at: datetime) -> Decimal:
    """USD MRR the generator planted for `life` just before the instant `at`: the plan of the latest period begun,
    yearly plans at a twelfth of their 10× price, less a recurring discount (a repeating coupon, or a once-only one
    on a yearly invoice, docs/metrics.md); 0 once the subscription has ended."""
    if life.churned_at is not None and life.churned_at < at:
        return Decimal(0)
    begun = [index for index, period in enumerate(life.periods) if period.start < at]
    if not begun:
        return Decimal(0)
    index = begun[-1]
    mrr = Decimal(life.periods[index].mrr_usd) * (Decimal(10) / 12 if life.annual else 1)
    coupon = coupons[index]
    if coupon is not None:
        terms = COUPONS[coupon[0]]
        if terms["duration"] in ("repeating", "forever") or (terms["duration"] == "once" and life.annual):
            mrr *= 1 - Decimal(str(terms["percent_off"])) / 100
    return mrr


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


def month_ends(
    world: GeneratedWorld, zone: str, as_of: date | None = None
) -> list[tuple[Life, list[tuple[date, Decimal]]]]:
    """Each life's planted MRR at the end of every month of `zone`'s calendar from its sign-up to the export's last
    month; a month-end after the export's end is read at the export's end (nothing later is in the export). With
    a reporting date, the data ends with that day instead."""
    clock, merchant = MerchantClock(zone), MerchantClock(world.truth["truth"]["timezone"])
    export_end = merchant.at(date.fromisoformat(world.truth["end"]))
    if as_of is not None:
        export_end = min(export_end, merchant.at(as_of + timedelta(days=1)))
    last_month = clock.day_of(export_end - timedelta(seconds=1)).replace(day=1)
    lives = []
    for life in world.lives:
        month, series = clock.day_of(life.signed_at).replace(day=1), []
        while month <= last_month:
            at = min(clock.at(add_months(month, 1)), export_end)
            series.append((month, planted_mrr(life, world.coupons[life.company_id], at)))
            month = add_months(month, 1)
        lives.append((life, series))
    return lives


def oracle(
    world: GeneratedWorld, keys: dict[str, str], zone: str, as_of: date | None = None
) -> dict[tuple[str, date], Row]:
    """Each customer-month from the customer's first month with MRR at its end through the export's last month
    (or the reporting date's), in the calendar of `zone`: the movement, the cohort (that first month) and the
    month-end MRR the lives say."""
    customers = {
        record["email"]: record["id"] for record in read_jsonl(world.exports / "billing", "customers").values()
    }
    rows: dict[tuple[str, date], Row] = {}
    for life, series in month_ends(world, zone, as_of):
        key = keys[customers[life.contacts[0].email]]
        paying = [month for month, mrr in series if mrr > 0]
        opening, had_mrr = Decimal(0), False
        for month, closing in series:
            if paying and month >= paying[0]:
                rows[(key, month)] = (classify(opening, closing, had_mrr), paying[0], closing)
                had_mrr, opening = had_mrr or closing > 0, closing
    return rows


def crossing_customers(world: GeneratedWorld, keys: dict[str, str]) -> set[str]:
    """Customers with a sign-up, renewal or churn whose month differs between the merchant's calendar and UTC."""
    merchant, customers = (
        MerchantClock(world.truth["truth"]["timezone"]),
        {record["email"]: record["id"] for record in read_jsonl(world.exports / "billing", "customers").values()},
    )
    crossing = set()
    for life in world.lives:
        moments = [life.signed_at, *(period.end for period in life.periods)]
        if any(merchant.day_of(moment).replace(day=1) != moment.date().replace(day=1) for moment in moments):
            crossing.add(keys[customers[life.contacts[0].email]])
    return crossing


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
    """Billing customer id -> customer key; the oracle speaks of lives, the marts of customer keys."""
    pairs = query(
        url,
        "select source_id, customer_key from intermediate.int_customer_identity"
        " where source_system = 'billing_customer'",
    )
    keys = dict(pairs)
    assert len(set(keys.values())) == len(keys) == len(pairs), "identity must map billing customers one to one here"
    return keys


def differences(mart: dict[tuple[str, date], Row], expected: dict[tuple[str, date], Row]) -> list[tuple]:
    """Customer-months present on one side only, or whose movement, cohort or MRR (beyond rounding) differ."""
    found = []
    for key in sorted(mart.keys() | expected.keys()):
        got, want = mart.get(key), expected.get(key)
        if got is None or want is None or got[:2] != want[:2] or abs(got[2] - want[2]) > TOLERANCE:
            found.append((key, got, want))
    return found
