"""`tealeaves_daily` end to end on real parts: exports → raw → dbt → Great Expectations → published marts.

The CAC mart is checked against numbers computed here, independently, straight from the generated files.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest

from tealeaves.generate import default_truth, generate

pytestmark = pytest.mark.e2e
LOGICAL_DATE = datetime(2026, 1, 15, tzinfo=UTC)


def month_of(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def expected_acquisition_cost(data: Path) -> dict[tuple[date, str], tuple[Decimal, int, Decimal | None]]:
    """Paid CAC per month and channel, from the raw export files alone."""
    with open(data / "crm" / "companies.csv", newline="") as handle:
        channel_of = {
            row["hs_object_id"]: (row["hs_analytics_source"] or "UNKNOWN").upper() for row in csv.DictReader(handle)
        }
    customers = [json.loads(line) for line in (data / "billing" / "customers.jsonl").read_text().splitlines()]
    key_of = {}
    for c in customers:
        company = c["metadata"].get("hubspot_company_id")
        key_of[c["id"]] = f"crm:{company}" if company in channel_of else f"billing:{c['id']}"
    first_paid: dict[str, datetime] = {}
    for line in (data / "billing" / "invoices.jsonl").read_text().splitlines():
        invoice = json.loads(line)
        if invoice["status"] == "paid" and invoice["amount_paid"] > 0:
            key = key_of[invoice["customer"]]
            paid_at = datetime.fromtimestamp(invoice["created"], UTC)
            first_paid[key] = min(paid_at, first_paid.get(key, paid_at))
    new_customers: dict[tuple[date, str], int] = defaultdict(int)
    for key, paid_at in first_paid.items():
        channel = channel_of[key.removeprefix("crm:")] if key.startswith("crm:") else "UNKNOWN"
        new_customers[(month_of(paid_at), channel)] += 1
    spend: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    with open(data / "crm" / "marketing_spend.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            spend[(month_of(date.fromisoformat(row["spend_date"])), row["channel"])] += Decimal(row["spend"])
    cells = set(spend) | set(new_customers)
    first, last = min(m for m, _ in cells), max(m for m, _ in cells)
    months = [
        date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1)
        for i in range((last.year - first.year) * 12 + last.month - first.month + 1)
    ]
    expected = {}
    for month in months:
        for channel in {c for _, c in cells}:
            s, n = spend.get((month, channel), Decimal("0")), new_customers.get((month, channel), 0)
            cac = (s / n).quantize(Decimal("0.01"), ROUND_HALF_UP) if n else None
            expected[(month, channel)] = (s.quantize(Decimal("0.01")), n, cac)
    return expected


def published_acquisition_cost(url: str) -> dict[tuple[date, str], tuple[Decimal, int, Decimal | None]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("select month, channel, spend, new_customers, cac from marts.fct_acquisition_cost")
        return {(m, c): (s, n, cac) for m, c, s, n, cac in rows}


def table_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'raw' order by 1"
            )
        ]
        return {t: conn.execute(f'select count(*) from raw."{t}"').fetchone()[0] for t in tables}


@pytest.fixture(scope="module")
def exports(airflow_ready):
    # Clean exports: this test recomputes CAC by hand; the planted mess has tests of its own.
    generate(airflow_ready.data_dir, customers=250, months=6, seed=11, truth=default_truth().clean())
    return airflow_ready.data_dir


@pytest.fixture(scope="module")
def first_run(dagbag, exports):
    return dagbag.dags["tealeaves_daily"].test(logical_date=LOGICAL_DATE)


def test_daily_run_succeeds_through_every_stage(first_run, warehouse_url):
    assert first_run.state == "success"
    with psycopg.connect(warehouse_url) as conn:
        gate = conn.execute(
            "select bool_and(success), count(*) from quality.validation_runs where run_id = %s",
            [first_run.run_id],
        ).fetchone()
        schemas = {r[0] for r in conn.execute("select nspname from pg_namespace")}
    assert gate == (True, 1), "the quality gate recorded its verdict for this run"
    assert "marts" in schemas and "marts_build" not in schemas, "the audited build was published"


def test_published_cac_matches_numbers_computed_from_the_exports(first_run, exports, warehouse_url):
    expected = expected_acquisition_cost(exports)
    published = published_acquisition_cost(warehouse_url)
    assert published.keys() == expected.keys()
    mismatches = {k: (published[k], expected[k]) for k in expected if published[k] != expected[k]}
    assert mismatches == {}
    written = json.loads((exports / "truth.json").read_text())["customers"]
    assert sum(n for _, n, _ in published.values()) == written, "every generated customer is counted once"


def test_rerunning_the_same_day_changes_nothing(first_run, dagbag, warehouse_url):
    before_raw, before_marts = table_counts(warehouse_url), published_acquisition_cost(warehouse_url)
    second = dagbag.dags["tealeaves_daily"].test(logical_date=LOGICAL_DATE)
    assert second.state == "success"
    assert table_counts(warehouse_url) == before_raw, "reloading the same exports added no raw rows"
    assert published_acquisition_cost(warehouse_url) == before_marts
    with psycopg.connect(warehouse_url) as conn:
        previous = conn.execute("select count(*) from marts_previous.fct_acquisition_cost").fetchone()[0]
    assert previous == len(before_marts), "the previous good set is kept beside the new one"
