"""A backfill older than Stripe's event retention: MRR history where the subscription events are gone.

Stripe's Events API lists "events going back up to 30 days" (https://docs.stripe.com/api/events), so a warehouse
first loaded from a year-old Stripe account gets every subscription and invoice but only the last month of
customer.subscription.* events, or none at all from an export that leaves them out. The generator writes such
worlds (`generate(..., events_days=30)`): the same simulated lives, their invoices and subscriptions in full, the
events of the last N days only (drawn as before, so every other record is the one the full export has). Their
truth.json records each subscription's realised MRR from the lives, as for a full world, and tests/mrr_oracle.py
reads it: the month-end MRR, movement and cohort of every customer-month must be what the truth says, exactly as
test_reporting_timezone asks of a world with every event, and what the mart of the same world exported with every
event says. No SQL rule is restated here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tealeaves.load import load_paths
from tests.conftest import create_database, dbt_build
from tests.mrr_oracle import GeneratedWorld, billing_customer_keys, differences, generate_world, movements, oracle
from tests.warehouse import query

WORLD = {"customers": 300, "months": 12, "seed": 7}
REVENUE = "+fct_mrr_movements"


@pytest.fixture(scope="module")
def build(server, tmp_path_factory):
    """Factory: the world with only the last N days of subscription events (None: every event), loaded and built
    in UTC months."""

    def build_world(days: int | None) -> tuple[int | None, GeneratedWorld, str]:
        name = "all" if days is None else str(days)
        tmp = tmp_path_factory.mktemp(f"events_{name}")
        world = generate_world(tmp / "exports", events_days=days, **WORLD)
        url = create_database(server, f"t_event_retention_{name}")
        load_paths(url, [tmp / "exports" / "billing", tmp / "exports" / "crm"])
        dbt_build(url, REVENUE, tmp / "dbt", env={"TEALEAVES_TIMEZONE": "UTC", "TEALEAVES_AS_OF": ""})
        return days, world, url

    return build_world


@pytest.fixture(scope="module")
def full_events(build):
    return build(None)


@pytest.fixture(scope="module", params=[30, 0], ids=["events-of-the-last-30-days", "no-events"])
def backfill(request, build):
    return build(request.param)


def test_the_export_holds_only_the_retained_events(backfill):
    """The world is the backfill it claims to be: no event older than the window, and plan changes and sign-ups
    before it whose events are gone, so the history can only come from elsewhere."""
    days, world, url = backfill
    end = datetime.fromisoformat(world.truth["end"]).replace(tzinfo=UTC)
    [(events, oldest)] = query(url, "select count(*), min(occurred_at) from staging.stg_billing__subscription_events")
    assert oldest is None or oldest.replace(tzinfo=UTC) >= end - timedelta(days=days)
    assert (events > 0) is (days > 0)
    assert world.truth["planted"]["billing"]["events_older_than_the_export_window"] > 200
    window = (end - timedelta(days=days)).isoformat().replace("+00:00", "Z")
    changes_before_the_window = sum(
        1
        for subscription in world.truth["realised"]["billing"]["subscriptions"].values()
        for moment, mrr in list(subscription["mrr_changes"].items())[1:]
        if moment < window and mrr > 0
    )
    assert changes_before_the_window > 20, "plan changes and discounts whose events are gone"


def test_mrr_movements_equal_the_realised_truth_without_the_old_events(backfill):
    """Every customer-month of fct_mrr_movements has the month-end MRR, movement and cohort truth.json gives, with
    the events older than the window gone (or no events at all): none missing, none extra."""
    _, world, url = backfill
    expected = oracle(world, billing_customer_keys(url), "UTC")
    assert len(expected) > 1500
    assert differences(movements(url), expected) == []


def test_a_backfill_gives_the_same_movements_as_the_full_events_world(backfill, full_events):
    """The backfill is the same world as the one exported with every event (the generator leaves the old events out
    without changing any other record or the realised truth), and its mart says the same, customer-month by
    customer-month: movement, cohort and month-end MRR."""
    _, world, url = backfill
    _, full_world, full_url = full_events
    assert world.truth["realised"] == full_world.truth["realised"]
    assert billing_customer_keys(url) == billing_customer_keys(full_url)
    assert differences(movements(url), movements(full_url)) == []
