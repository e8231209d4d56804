"""A company has the exports it has: any subset of sources and files builds, and the gate follows the inputs.

Real loader, real `dbt build`, real GX gate on a generated world with files taken away. A mart either builds
with rows or `mart_source_coverage` names an absent export it reads; the gate demands "not empty" only of
marts whose required exports are present. Whole runs of `tealeaves run` on a help desk alone and on billing
and CRM alone are in test_run_own_data.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tealeaves.generate import generate
from tealeaves.load import load_paths
from tealeaves.quality.gate import run_gate
from tests.conftest import DAILY_BUILD, create_database, dbt_build

BUILD = "marts_build"
# One database for the module's builds, emptied by each
DATABASE = "t_subsets"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("subsets") / "exports"
    generate(folder, customers=60, months=3, seed=3)
    return folder


def export_files(world: Path) -> list[str]:
    return sorted(str(p.relative_to(world)) for p in world.glob("*/*") if p.is_file())


def build_from(server, world: Path, keep: list[str], scratch: Path) -> str:
    """Copy only `keep` (paths relative to the world) to a folder, load it whole into an empty database and
    dbt-build every mart."""
    folder = scratch / "kept"
    for relative in keep:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(world / relative, folder / relative)
    folder.mkdir(exist_ok=True)
    url = create_database(server, DATABASE)
    load_paths(url, [folder], strict=False, allow_empty=True)
    dbt_build(url, DAILY_BUILD, scratch / "dbt")
    return url


def marts_without_rows_or_reason(url: str) -> list[str]:
    """Marts that are empty although every export they read was present: a silent loss."""
    with psycopg.connect(url) as conn:
        marts = [
            r[0]
            for r in conn.execute("select table_name from information_schema.tables where table_schema = %s", [BUILD])
        ]
        coverage = dict(
            conn.execute(f"select mart_name, bool_and(is_present) from {BUILD}.mart_source_coverage group by 1")
        )
        return [
            mart
            for mart in marts
            if mart in coverage
            and coverage[mart]
            and conn.execute(f'select not exists (select from {BUILD}."{mart}")').fetchone()[0]
        ]


def test_an_empty_mart_with_its_required_inputs_present_still_fails_the_gate(server, world, tmp_path):
    """The relaxation is for absent inputs only: subscriptions present but the mart emptied is still blocking."""
    url = build_from(server, world, export_files(world), tmp_path)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"delete from {BUILD}.fct_revenue_retention_monthly")
    result = run_gate(url, BUILD, "emptied")
    assert not result.passed
    assert {(f.table.split(".")[-1], f.expectation_type) for f in result.blocking_failures} >= {
        ("fct_revenue_retention_monthly", "expect_table_row_count_to_be_between")
    }


def file_types(world: Path) -> dict[str, list[str]]:
    """Export files grouped by contract (invoices.jsonl with its late deliveries, ...)."""
    from tealeaves import sources

    grouped: dict[str, list[str]] = {}
    for relative in export_files(world):
        contract = sources.for_file(world / relative)
        grouped.setdefault(contract.table, []).append(relative)
    return grouped


@settings(max_examples=2, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_removing_any_file_types_never_breaks_the_build(server, world, tmp_path_factory, data):
    """Property: whatever file types are missing, dbt builds every mart and an empty mart names an absent export.

    File types go whole. A type delivered in part (charges whose invoices are in a late file that has not
    arrived) stops the build at the staging relationships test, which names it: a broken delivery, not an absence.
    """
    types = file_types(world)
    kept = data.draw(st.lists(st.sampled_from(sorted(types)), unique=True), label="kept file types")
    scratch = tmp_path_factory.mktemp("subset")
    url = build_from(server, world, [f for t in kept for f in types[t]], scratch)
    assert marts_without_rows_or_reason(url) == []
    result = run_gate(url, BUILD, "random subset")
    assert all(s.error is None for s in result.suites), "every suite could judge its mart"
