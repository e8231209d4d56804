"""The quality gate on real PostgreSQL: what it lets through, what it stops, what it leaves in `quality`.

Each test builds its own `fct_acquisition_cost` in a schema of its own and runs the project's real suite
(copied alone into a temporary folder, so suites added later for other tables do not change these facts).
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tealeaves.config import PROJECT_ROOT
from tealeaves.quality.gate import SuiteDefinitionError, load_suites, run_gate
from tests.acquisition_cost_table import GOOD_ROWS, SUITE, SUITE_FILE, TABLE_DDL, Row


@pytest.fixture
def suites_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "expectations"
    directory.mkdir()
    shutil.copy(SUITE_FILE, directory / SUITE_FILE.name)
    return directory


@pytest.fixture
def new_schema(warehouse_url: str) -> Iterator[Callable[..., str]]:
    """Factory: a fresh schema, with `fct_acquisition_cost` holding `rows` unless `rows` is None."""
    created: list[str] = []

    def make(rows: list[Row] | None) -> str:
        schema = f"gate_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
            created.append(schema)
            if rows is not None:
                conn.execute(sql.SQL(TABLE_DDL).format(sql.Identifier(schema)))
                with conn.cursor() as cur:
                    cur.executemany(
                        sql.SQL("insert into {}.fct_acquisition_cost values (%s, %s, %s, %s, %s)").format(
                            sql.Identifier(schema)
                        ),
                        rows,
                    )
        return schema

    yield make
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        for schema in created:
            conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(schema)))


def stored(warehouse_url: str, run_id: str) -> tuple[list[tuple], list[tuple]]:
    """The run's rows in quality.validation_runs, and its outcomes with their samples (as the data team sees them)."""
    with psycopg.connect(warehouse_url) as conn:
        runs = conn.execute(
            "select suite, schema_name, table_name, success from quality.validation_runs where run_id = %s",
            [run_id],
        ).fetchall()
        results = conn.execute(
            "select expectation_type, column_name, severity, success, unexpected_count, unexpected_sample,"
            " observed_value, error from quality_samples.expectation_details where run_id = %s",
            [run_id],
        ).fetchall()
    return runs, results


def new_run_id() -> str:
    return f"test__{uuid.uuid4().hex}"


def test_a_good_table_passes_and_every_expectation_is_stored(warehouse_url, new_schema, suites_dir):
    schema = new_schema(GOOD_ROWS)
    run_id = new_run_id()

    result = run_gate(warehouse_url, schema, run_id, suites_dir=suites_dir)

    assert result.passed, result.summary()
    assert result.blocking_failures == [] and result.warnings == []
    assert "PASSED" in result.summary()
    (expected_count,) = [len(s.checks) for s in load_suites(suites_dir)]
    runs, results = stored(warehouse_url, run_id)
    assert runs == [(SUITE, schema, "fct_acquisition_cost", True)]
    assert len(results) == expected_count
    assert all(success for _, _, _, success, *_ in results)
    assert ("expect_compound_columns_to_be_unique", "month, channel") in {(t, c) for t, c, *_ in results}


def test_negative_spend_and_a_repeated_month_and_channel_block_publishing(warehouse_url, new_schema, suites_dir):
    rows = [
        *GOOD_ROWS,
        ("2024-01-01", "paid_search", "600.00", 4, "150.00"),  # a second 2024-01 paid_search row
        ("2024-03-01", "affiliates", "-25.00", 0, None),  # a refund booked as negative spend
    ]
    schema = new_schema(rows)
    run_id = new_run_id()

    result = run_gate(warehouse_url, schema, run_id, suites_dir=suites_dir)

    assert not result.passed
    failures = {(f.expectation_type, f.column): f for f in result.blocking_failures}
    assert set(failures) == {
        ("expect_compound_columns_to_be_unique", "month, channel"),
        ("expect_column_values_to_be_between", "spend"),
    }
    duplicate = failures["expect_compound_columns_to_be_unique", "month, channel"]
    assert duplicate.unexpected_count == 2  # GX counts every row of a repeated key, not the extra ones
    assert {"month": "2024-01-01", "channel": "paid_search"} in duplicate.unexpected_sample
    negative = failures["expect_column_values_to_be_between", "spend"]
    assert negative.unexpected_count == 1
    assert negative.unexpected_sample == [{"month": "2024-03-01", "channel": "affiliates", "spend": -25.0}]

    summary = result.summary()
    assert summary.startswith("Quality gate FAILED")
    assert "expect_compound_columns_to_be_unique(month, channel)" in summary
    assert "expect_column_values_to_be_between(spend)" in summary
    assert "1 of 7 rows unexpected" in summary and "-25.0" in summary

    runs, results = stored(warehouse_url, run_id)
    assert runs == [(SUITE, schema, "fct_acquisition_cost", False)]
    failed = {(t, c): count for t, c, _, success, count, *_ in results if not success}
    assert failed == {
        ("expect_compound_columns_to_be_unique", "month, channel"): 2,
        ("expect_column_values_to_be_between", "spend"): 1,
    }


def test_rows_an_expectation_tolerates_are_still_shown(warehouse_url, new_schema, tmp_path):
    """A check that passes with unexpected rows (GX's `mostly`) keeps its sample: the gate reads samples only
    for the expectations with unexpected rows, and this is one; the clean one beside it has none to show."""
    directory = tmp_path / "tolerant"
    directory.mkdir()
    (directory / f"{SUITE}.py").write_text(
        "import great_expectations as gx\n"
        "from tealeaves.quality import Check\n"
        f"TABLE = {SUITE!r}\n"
        "GRAIN = ('month', 'channel')\n"
        "def expectations():\n"
        "    return [\n"
        "        Check(gx.expectations.ExpectColumnValuesToBeBetween(column='spend', min_value=0, mostly=0.5)),\n"
        "        Check(gx.expectations.ExpectColumnValuesToNotBeNull(column='month')),\n"
        "    ]\n"
    )
    schema = new_schema([*GOOD_ROWS, ("2024-03-01", "affiliates", "-25.00", 0, None)])

    result = run_gate(warehouse_url, schema, new_run_id(), suites_dir=directory)

    assert result.passed, result.summary()
    tolerated, not_null = result.suites[0].outcomes
    assert tolerated.success and tolerated.unexpected_count == 1
    assert tolerated.unexpected_sample == [{"month": "2024-03-01", "channel": "affiliates", "spend": -25.0}]
    assert not_null.success and not_null.unexpected_count == 0 and not_null.unexpected_sample == []


def test_a_cac_that_is_not_spend_per_new_customer_blocks(warehouse_url, new_schema, suites_dir):
    schema = new_schema(
        [
            *GOOD_ROWS,
            ("2024-03-01", "events", "900.00", 3, "30.00"),  # should be 300.00
            ("2024-03-01", "affiliates", "100.00", 0, "5.00"),  # a CAC without any customer
        ]
    )

    result = run_gate(warehouse_url, schema, new_run_id(), suites_dir=suites_dir)

    assert [(f.expectation_type, f.unexpected_count) for f in result.blocking_failures] == [
        ("unexpected_rows_expectation", 2)
    ]
    assert "CAC is spend / new customers" in result.summary()


def test_a_warning_alone_does_not_block(warehouse_url, new_schema, suites_dir):
    # One customer for 250,000 USD: possible, but worth a look.
    schema = new_schema([*GOOD_ROWS, ("2024-03-01", "events", "250000.00", 1, "250000.00")])
    run_id = new_run_id()

    result = run_gate(warehouse_url, schema, run_id, suites_dir=suites_dir)

    assert result.passed, result.summary()
    assert result.blocking_failures == []
    [warning] = result.warnings
    assert (warning.column, warning.severity, warning.unexpected_count) == ("cac", "warning", 1)
    assert "warning fct_acquisition_cost: expect_column_values_to_be_between(cac)" in result.summary()
    runs, results = stored(warehouse_url, run_id)
    assert runs[0][3] is True  # the suite let the data through
    assert [(t, c, sev) for t, c, sev, success, *_ in results if not success] == [
        ("expect_column_values_to_be_between", "cac", "warning")
    ]


def test_a_missing_table_fails_the_gate_and_says_which(warehouse_url, new_schema, suites_dir):
    schema = new_schema(None)
    run_id = new_run_id()

    result = run_gate(warehouse_url, schema, run_id, suites_dir=suites_dir)

    assert not result.passed
    [suite] = result.suites
    assert suite.error is not None and f"{schema}.fct_acquisition_cost does not exist" in suite.error
    assert f"{schema}.fct_acquisition_cost does not exist" in result.summary()
    runs, results = stored(warehouse_url, run_id)
    assert runs == [(SUITE, schema, "fct_acquisition_cost", False)]
    assert results and all(not success and error for *_, success, _, _, _, error in results)


def test_rerunning_a_run_id_replaces_its_rows(warehouse_url, new_schema, suites_dir):
    schema = new_schema([*GOOD_ROWS, ("2024-03-01", "affiliates", "-25.00", 0, None)])
    run_id = new_run_id()
    first = run_gate(warehouse_url, schema, run_id, suites_dir=suites_dir)
    assert not first.passed
    with psycopg.connect(warehouse_url, autocommit=True) as conn:  # someone fixes the data, the task is retried
        conn.execute(
            sql.SQL("update {}.fct_acquisition_cost set spend = 25 where spend < 0").format(sql.Identifier(schema))
        )

    second = run_gate(warehouse_url, schema, run_id, suites_dir=suites_dir)

    assert second.passed, second.summary()
    runs, results = stored(warehouse_url, run_id)
    assert len(runs) == 1 and runs[0][3] is True
    assert len(results) == len(second.suites[0].outcomes)
    assert all(success for _, _, _, success, *_ in results)


def test_a_malformed_suite_file_is_named_in_the_error(warehouse_url, tmp_path):
    (tmp_path / "fct_orders.py").write_text("TABLE = 'fct_orders'\n\ndef expectations():\n    return ['not null']\n")

    with pytest.raises(SuiteDefinitionError, match=r"fct_orders\.py: item 0 of expectations\(\)"):
        run_gate(warehouse_url, "public", new_run_id(), suites_dir=tmp_path)


def test_a_suite_file_named_like_the_samples_of_another_is_validated_too(warehouse_url, new_schema, tmp_path):
    """The gate reads the samples of a suite's unexpected rows in a suite of their own, "<suite> (samples)"; a suite
    file of that name, validated first (it sorts first), keeps its own results, and the other suite gets its
    samples."""
    directory = tmp_path / "named_like_samples"
    directory.mkdir()
    for name, check in (
        (SUITE, "ExpectColumnValuesToBeBetween(column='spend', min_value=0)"),
        (f"{SUITE} (samples)", "ExpectColumnValuesToNotBeNull(column='month')"),
    ):
        (directory / f"{name}.py").write_text(
            "import great_expectations as gx\n"
            "from tealeaves.quality import Check\n"
            f"TABLE = {SUITE!r}\n"
            "GRAIN = ('month', 'channel')\n"
            f"def expectations():\n    return [Check(gx.expectations.{check})]\n"
        )
    schema = new_schema([*GOOD_ROWS, ("2024-03-01", "affiliates", "-25.00", 0, None)])

    result = run_gate(warehouse_url, schema, new_run_id(), suites_dir=directory)

    by_suite = {suite.suite: suite.outcomes for suite in result.suites}
    assert set(by_suite) == {SUITE, f"{SUITE} (samples)"}
    [not_null] = by_suite[f"{SUITE} (samples)"]
    assert not_null.success and not_null.unexpected_count == 0
    [between] = by_suite[SUITE]
    assert not between.success and between.unexpected_count == 1
    assert between.unexpected_sample == [{"month": "2024-03-01", "channel": "affiliates", "spend": -25.0}]


def test_a_suite_that_repeats_an_expectation_is_named_in_the_error(warehouse_url, new_schema, tmp_path):
    """GX keeps one of two equal expectations; the gate refuses the suite instead of checking it once silently. The
    same expectation with another `mostly` is another check."""
    directory = tmp_path / "repeating"
    directory.mkdir()
    check = "        Check(gx.expectations.ExpectColumnValuesToNotBeNull(column='month'{})),\n"
    (directory / f"{SUITE}.py").write_text(
        "import great_expectations as gx\n"
        "from tealeaves.quality import Check\n"
        f"TABLE = {SUITE!r}\n"
        "def expectations():\n"
        "    return [\n" + check.format("") + check.format(", mostly=0.9") + check.format("") + "    ]\n"
    )
    schema = new_schema(GOOD_ROWS)

    with pytest.raises(SuiteDefinitionError) as refused:
        run_gate(warehouse_url, schema, new_run_id(), suites_dir=directory)

    assert (refused.value.path, refused.value.item) == (directory / f"{SUITE}.py", 2)


def test_data_docs_show_the_run_with_its_failed_expectation(warehouse_url, new_schema, suites_dir, tmp_path):
    schema = new_schema([*GOOD_ROWS, ("2024-03-01", "affiliates", "-25.00", 0, None)])
    docs = tmp_path / "docs"

    result = run_gate(warehouse_url, schema, new_run_id(), suites_dir=suites_dir, docs_dir=docs)

    assert not result.passed
    assert (docs / "index.html").is_file()
    pages = list((docs / "validations" / SUITE).rglob("*.html"))
    assert len(pages) == 1, "one validation page for the suite's run"
    # the failed expectation's samples come from a second validation of it alone, merged into the suite's
    assert [path.name for path in (docs / "validations").iterdir()] == [SUITE]
    assert [path.stem for path in (docs / "expectations").rglob("*.html")] == [SUITE]
    page = pages[0].read_text()
    assert "Status: Failed" in " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "Spend is never negative" in page and "-25.0" in page, "the failed expectation and offending value"


def test_a_missing_day_of_paid_spend_blocks_publishing(server, tmp_path):
    """A day whose spend report never arrived (every row parses, nothing looks wrong) is caught at the gate."""
    from tealeaves.generate import default_truth, generate
    from tealeaves.load import load_paths
    from tests.conftest import create_database, dbt_build

    exports = tmp_path / "exports"
    generate(exports, customers=60, months=2, seed=5, truth=default_truth().clean())
    spend = exports / "crm" / "marketing_spend.csv"
    lines = spend.read_text().splitlines(keepends=True)
    spend.write_text("".join(line for line in lines if not line.startswith("2025-01-15,")))
    url = create_database(server, "t_gate_missing_day")
    load_paths(url, [p for p in sorted(exports.iterdir()) if p.is_dir()])
    dbt_build(url, "+fct_acquisition_cost", tmp_path)
    suites = tmp_path / "suites"
    suites.mkdir()
    shutil.copy(PROJECT_ROOT / "expectations" / "marts" / "fct_acquisition_cost_spend_days.py", suites)

    result = run_gate(url, "marts_build", new_run_id(), suites_dir=suites)

    assert not result.passed
    [failure] = result.blocking_failures
    assert failure.description == "No day missing from a paid channel's spend"
    assert failure.unexpected_count == 4, "one missing day for each of the four paid channels"
