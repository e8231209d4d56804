"""Months are the merchant's months: with TEALEAVES_TIMEZONE set to the merchant's zone, every customer's MRR and
its movement land in the calendar month the merchant's own clock says.

The worlds are generated with the merchant in Australia/Sydney (UTC+10, +11 in summer) and in America/New_York
(UTC-5, -4): sign-ups in local office hours, renewals at 06:00 local time on the sign-up's day of the month, the
export taken at local midnight. The oracle is what the generator realised, as truth.json records it: each
subscription's MRR by docs/metrics.md's definition (yearly plans ÷ 12, after recurring discounts) at every instant
it changed. The month-end MRR of each of the merchant's months is the latest change before the month's last
instant, and the movement follows fct_mrr_movements' documented classes (tests/mrr_oracle.py). The warehouse is
read only for the mart itself and for the customer key identity gave each billing customer; no SQL rule is
restated here, and the comparison is exact to the cent.

Built again with TEALEAVES_TIMEZONE=UTC, the same Sydney world's mart gets a known number of customer-months
wrong, all of customers whose sign-up, plan change or churn falls in another month in UTC than in Sydney (a renewal
at 06:00 on the 1st in Sydney is 19:00 or 20:00 on the last day of the month before in UTC).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tealeaves.load import load_paths
from tests.conftest import create_database, dbt_build
from tests.mrr_oracle import (
    GeneratedWorld,
    Row,
    billing_customer_keys,
    crossing_customers,
    differences,
    generate_world,
    movements,
    oracle,
)
from tests.warehouse import query

SYDNEY = {"customers": 300, "months": 12, "seed": 7, "timezone": "Australia/Sydney"}
NEW_YORK = {"customers": 300, "months": 12, "seed": 7, "timezone": "America/New_York"}
SYDNEY_AS_OF = date(2025, 6, 15)  # a reporting date in the middle of a month
REVENUE = "+fct_mrr_movements +int_customers_summarised"


def build(url: str, scratch: Path, zone: str, as_of: str = "", unit_tests: bool = False) -> dict[tuple[str, date], Row]:
    env = {"TEALEAVES_TIMEZONE": zone, "TEALEAVES_AS_OF": as_of}
    dbt_build(url, REVENUE, scratch, env=env, unit_tests=unit_tests)
    return movements(url)


@pytest.fixture(scope="module")
def warehouse(server, tmp_path_factory):
    """Factory: a generated world (with its truth.json), loaded (billing and CRM) into a database of its own."""

    def load(name: str, **world_args: object) -> tuple[GeneratedWorld, str, Path]:
        tmp = tmp_path_factory.mktemp(name)
        world = generate_world(tmp / "exports", **world_args)
        url = create_database(server, f"t_timezone_{name}")
        load_paths(url, [tmp / "exports" / "billing", tmp / "exports" / "crm"])
        return world, url, tmp

    return load


@pytest.fixture(scope="module")
def sydney(warehouse):
    """The Sydney world's revenue marts built in Sydney months, then again (same database) in UTC months."""
    world, url, tmp = warehouse("sydney", **SYDNEY)
    local = build(url, tmp / "dbt-local", "Australia/Sydney")
    keys = billing_customer_keys(url)
    utc = build(url, tmp / "dbt-utc", "UTC")
    # with the revenue models' unit tests: the session's one build whose environment sets another zone and an
    # as-of date, so a unit test reading either from there instead of its pinned vars fails here
    as_of = build(url, tmp / "dbt-as-of", "Australia/Sydney", SYDNEY_AS_OF.isoformat(), unit_tests=True)
    ltv_as_of = query(url, "select distinct as_of_date from intermediate.int_customers_summarised")
    return world, keys, local, utc, (as_of, ltv_as_of)


@pytest.fixture(scope="module")
def new_york(warehouse):
    world, url, tmp = warehouse("new_york", **NEW_YORK)
    local = build(url, tmp / "dbt-local", "America/New_York")
    return world, billing_customer_keys(url), local


def test_mrr_movements_land_in_sydney_months(sydney):
    """Every customer-month of fct_mrr_movements, built in Sydney months, has the movement, cohort and closing MRR
    the realised truth gives in Sydney months, and no customer-month is missing or extra."""
    world, keys, local, *_ = sydney
    expected = oracle(world, keys, "Australia/Sydney")
    assert len(expected) > 1500  # customer-months compared
    assert differences(local, expected) == []


def test_mrr_movements_land_in_new_york_months(new_york):
    """The same west of UTC, where a sign-up in the evening of a month's last day is already next month in UTC."""
    world, keys, local = new_york
    expected = oracle(world, keys, "America/New_York")
    assert len(expected) > 1500  # customer-months compared
    assert differences(local, expected) == []


def test_utc_months_move_customer_months_that_cross_a_month_boundary(sydney):
    """The same Sydney world built with TEALEAVES_TIMEZONE=UTC differs from the Sydney months the truth gives, so
    the Sydney test fails on a UTC build; and every customer it moves has a sign-up, plan change or churn whose
    month is another in UTC than in Sydney (a renewal at 06:00 on the 1st in Sydney is still the last day of the
    month before in UTC)."""
    world, keys, _, utc, _ = sydney
    moved = differences(utc, oracle(world, keys, "Australia/Sydney"))
    assert moved, "the zone matters in this world"
    assert {customer for (customer, _), *_ in moved} <= crossing_customers(world, keys)


def test_a_reporting_date_ends_the_months_and_the_ltv_calibration(sydney):
    """TEALEAVES_AS_OF=2025-06-15 on the Sydney world: the months end with June, whose month-end is the end of
    15 June in Sydney (the state the truth gives then, later renewals and churns not yet happened), and the LTV
    summaries are as of that day."""
    world, keys, _, _, (as_of, ltv_as_of) = sydney
    expected = oracle(world, keys, "Australia/Sydney", SYDNEY_AS_OF)
    assert max(month for _, month in expected) == date(2025, 6, 1)
    assert differences(as_of, expected) == []
    assert ltv_as_of == [(SYDNEY_AS_OF,)]
