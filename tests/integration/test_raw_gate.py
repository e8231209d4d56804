"""The raw gate holds a bad file back from staging until a corrected one replaces it.

Real exports, real loader, real GX validations on a real server: the defects are the ones a broken upstream
export produces and the loader cannot see (every row parses, the numbers are wrong).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest

from tealeaves.generate import default_truth, generate
from tealeaves.load import load_paths
from tealeaves.quality.raw_gate import run_raw_gate
from tests.conftest import create_database, dbt_build
from tests.warehouse import kill_caught_load, load_caught_at_its_lock


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("raw_gate")
    generate(folder, customers=80, months=2, seed=21, truth=default_truth().clean())
    return folder


@pytest.fixture
def warehouse(server, exports, request) -> str:
    """A database with the clean billing exports loaded and checked once."""
    url = create_database(server, f"t_raw_gate_{request.node.name[:30].lower()}")
    load_paths(url, [exports / "billing"], "billing")
    assert run_raw_gate(url, "baseline").passed
    return url


def invoices(exports: Path) -> list[dict]:
    return [json.loads(line) for line in (exports / "billing" / "invoices.jsonl").read_text().splitlines()]


def deliver(tmp_path: Path, records: list[dict], name: str = "invoices.jsonl") -> Path:
    """A re-export of the invoice file under its usual name, as the next delivery would arrive."""
    folder = tmp_path / f"delivery{len(list(tmp_path.glob('delivery*')))}"
    folder.mkdir()
    path = folder / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def batch_verdicts(url: str) -> dict[int, str]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("select batch_id, validation from raw.load_batches order by batch_id"))


def test_clean_exports_pass_and_every_batch_is_marked_passed(warehouse):
    assert set(batch_verdicts(warehouse).values()) == {"passed"}


def test_the_views_the_gate_reads_batches_through_are_gone_after_a_pass_and_after_a_failure(
    warehouse, exports, tmp_path
):
    """Each pending batch is read through a view made for the run (tealeaves.quality.gate.QUERY_VIEWS)."""
    from tealeaves.quality.gate import QUERY_VIEWS

    records = invoices(exports)
    records[0]["amount_paid"] = -1
    load_paths(warehouse, [deliver(tmp_path, records)], "billing")
    assert not run_raw_gate(warehouse, "failing").passed
    with psycopg.connect(warehouse) as conn:
        left = conn.execute("select count(*) from pg_views where schemaname = %s", [QUERY_VIEWS]).fetchone()
    assert left == (0,)


def test_negative_amounts_fail_the_batch_and_staging_never_sees_them(warehouse, exports, tmp_path):
    records = invoices(exports)
    for record in records[:10]:
        record["amount_paid"] = -abs(record["amount_paid"]) - 100
    [loaded] = load_paths(warehouse, [deliver(tmp_path, records)], "billing")
    assert loaded.rows_rejected == 0, "every row parses: only the content is wrong"

    result = run_raw_gate(warehouse, "negative")

    assert not result.passed
    assert [b.batch_id for b in result.failed_batches] == [loaded.batch_id]
    [failure] = result.gate.blocking_failures
    assert failure.description == "No negative amount paid" and failure.unexpected_count == 10
    assert "held back: batch" in result.summary()
    dbt_build(warehouse, "stg_billing__invoices", tmp_path)
    with psycopg.connect(warehouse) as conn:
        negative = conn.execute("select count(*) from staging.stg_billing__invoices where amount_paid < 0").fetchone()
    assert negative == (0,), "the failed batch stays in raw but staging skips it"


def test_a_bad_file_keeps_failing_until_a_corrected_one_supersedes_it(warehouse, exports, tmp_path):
    records = invoices(exports)
    duplicated = records + [dict(r, amount_paid=r["amount_paid"] + 1) for r in records[: len(records) // 5]]
    load_paths(warehouse, [deliver(tmp_path, duplicated)], "billing")
    first = run_raw_gate(warehouse, "duplicates")
    assert not first.passed
    assert {f.description for f in first.gate.blocking_failures} == {"Few rows share a key within the batch"}

    again = run_raw_gate(warehouse, "next hour")  # nothing new loaded; the bad file is still unfixed
    assert not again.passed and again.gate.suites == () and len(again.held_back) == 1

    load_paths(warehouse, [deliver(tmp_path, records[:-1])], "billing")  # the corrected re-export
    fixed = run_raw_gate(warehouse, "fixed")
    assert fixed.passed and fixed.held_back == ()


def test_a_truncated_export_is_held_back(warehouse, exports, tmp_path):
    records = invoices(exports)
    load_paths(warehouse, [deliver(tmp_path, records[: len(records) // 10])], "billing")
    result = run_raw_gate(warehouse, "truncated")
    assert not result.passed
    [failure] = result.gate.blocking_failures
    assert failure.description.startswith("Not under 50% of the rows")
    assert failure.suite.startswith("load_batches@batch")


def test_deliveries_of_one_file_are_checked_together_and_each_batch_keeps_its_verdict(warehouse, exports, tmp_path):
    """Three re-exports of the invoices waiting at once: one validation per suite, not one per file (the gate's
    cost follows the new rows); the same invoices in several files are not repeats within a batch; each batch is
    marked passed and can be traced to the stored results that judged it."""
    records = invoices(exports)
    loaded = load_paths(
        warehouse,
        [deliver(tmp_path, records[:-1]), deliver(tmp_path, records[:-2]), deliver(tmp_path, records[:-3])],
        "billing",
    )
    ids = [b.batch_id for b in loaded]

    result = run_raw_gate(warehouse, "three deliveries")

    assert result.passed and result.gate.warnings == []
    assert [b.batch_id for b in result.passed_batches] == ids
    assert sorted(r.suite.split("@")[0] for r in result.gate.suites) == ["billing_invoices", "load_batches"]
    for batch_id in ids:
        assert {r.suite.split("@")[0] for r in result.results_for(batch_id)} == {"billing_invoices", "load_batches"}
    with psycopg.connect(warehouse) as conn:
        stored = {
            r[0]
            for r in conn.execute("select suite from quality.validation_runs where run_id = %s", ["three deliveries"])
        }
        verdicts = dict(
            conn.execute("select batch_id, validation from raw.load_batches where batch_id = any(%s)", [ids])
        )
    assert stored == {r.suite for r in result.gate.suites}
    assert verdicts == dict.fromkeys(ids, "passed")


def test_a_bad_delivery_checked_with_a_good_one_is_named_alone_and_the_good_one_passes(warehouse, exports, tmp_path):
    records = invoices(exports)
    negative = [dict(r, amount_paid=-abs(r["amount_paid"]) - 100) if i < 10 else r for i, r in enumerate(records)]
    good, bad = load_paths(
        warehouse, [deliver(tmp_path, records[:-1]), deliver(tmp_path, negative, "invoices__late.jsonl")], "billing"
    )

    result = run_raw_gate(warehouse, "one bad of two")

    assert [b.batch_id for b in result.failed_batches] == [bad.batch_id]
    assert [b.batch_id for b in result.passed_batches] == [good.batch_id]
    [failure] = result.gate.blocking_failures
    assert failure.suite == f"billing_invoices@batch{bad.batch_id}" and failure.unexpected_count == 10
    assert batch_verdicts(warehouse)[good.batch_id] == "passed" and batch_verdicts(warehouse)[bad.batch_id] == "failed"


def test_the_gate_refuses_to_run_without_the_ledger_suite(warehouse, tmp_path):
    shutil.copytree(Path(__file__).resolve().parents[2] / "expectations" / "raw", tmp_path / "raw")
    (tmp_path / "raw" / "load_batches.py").unlink()
    with pytest.raises(FileNotFoundError, match="load_batches.py"):
        run_raw_gate(warehouse, "no ledger", suites_dir=tmp_path / "raw")


def test_a_small_late_delivery_with_one_resent_pair_passes(warehouse, exports, tmp_path):
    """Many rows sharing a key blocks; one re-sent record in an eight-line late file is normal and only warns."""
    records = invoices(exports)[:7]
    load_paths(warehouse, [deliver(tmp_path, [*records, records[0]], name="invoices__late.jsonl")], "billing")
    result = run_raw_gate(warehouse, "late pair")
    assert result.passed
    assert [w.description for w in result.gate.warnings] == ["Each key once in the batch"]


def _created(records: list[dict], created: int) -> list[dict]:
    return [dict(r, created=created) for r in records]


@pytest.mark.parametrize(
    ("created", "failed_checks"),
    [
        pytest.param(852_076_800, set(), id="1997: real history passes"),
        pytest.param(0, {("expect_column_values_to_not_be_in_set", "created")}, id="Unix time zero"),
        pytest.param(86_400 * 365 * 60, {("expect_column_values_to_be_between", "created")}, id="2030: the future"),
        pytest.param(
            1_700_000_000_000, {("expect_column_values_to_be_between", "created")}, id="milliseconds, not seconds"
        ),
    ],
)
def test_times_from_decades_ago_pass_and_time_zero_or_the_future_are_held_back(
    warehouse, exports, tmp_path, created, failed_checks
):
    [loaded] = load_paths(warehouse, [deliver(tmp_path, _created(invoices(exports), created))], "billing")
    result = run_raw_gate(warehouse, f"times {created}")
    failed = {(f.expectation_type, f.column) for f in result.gate.blocking_failures}
    assert failed == failed_checks
    assert result.passed is (not failed_checks)
    assert [b.batch_id for b in result.failed_batches] == ([loaded.batch_id] if failed_checks else [])


def test_the_plausibility_floor_is_a_setting(warehouse, exports, tmp_path, monkeypatch):
    """A company whose history starts in 2010 can hold back anything earlier as a broken export."""
    monkeypatch.setenv("TEALEAVES_EARLIEST_DATE", "2010-01-01")
    load_paths(warehouse, [deliver(tmp_path, _created(invoices(exports), 852_076_800))], "billing")
    result = run_raw_gate(warehouse, "floor 2010")
    assert {(f.expectation_type, f.column) for f in result.gate.blocking_failures} == {
        ("expect_column_values_to_be_between", "created")
    }


def test_a_file_that_could_not_be_loaded_holds_the_run_back_until_a_good_one_loads(warehouse, exports, tmp_path):
    broken = deliver(tmp_path, [])
    broken.write_bytes(b"\xff\xfe not UTF-8\n")
    [failed] = load_paths(warehouse, [broken], "billing", strict=False)
    assert failed.status == "failed" and "not valid UTF-8" in failed.error
    result = run_raw_gate(warehouse, "unreadable")
    assert not result.passed
    [held] = result.held_back
    assert (held.file_name, held.load_error) == ("invoices.jsonl", failed.error)

    load_paths(warehouse, [deliver(tmp_path, invoices(exports))], "billing")
    assert run_raw_gate(warehouse, "readable again").passed


def test_a_killed_load_holds_the_run_back_until_its_content_has_loaded_under_any_name(
    warehouse, exports, tmp_path, cli_env
):
    """Killed mid-load, then the same export arrives renamed: nothing is missing, so nothing is held back."""
    records = invoices(exports)[:-1]  # a new delivery: one invoice fewer than the baseline
    path = deliver(tmp_path, records)
    holder, process, _ = load_caught_at_its_lock(warehouse, cli_env, path, "billing_invoices")
    kill_caught_load(warehouse, holder, process)
    load_paths(warehouse, [deliver(tmp_path, records, "invoices_resent.jsonl")], "billing")
    result = run_raw_gate(warehouse, "after the kill")
    assert result.passed, result.summary()
    with psycopg.connect(warehouse) as conn:
        [(status, error)] = conn.execute(
            "select status, error from raw.load_batches where file_path = %s", [str(path.resolve())]
        ).fetchall()
    assert status == "failed" and "stopped before it finished" in error
    assert load_paths(warehouse, [path], "billing")[0].status == "unchanged"


def test_the_raw_gates_sessions_never_plan_a_nested_loop(fresh_database):
    """A day's batch can be missing from its table's statistics (a small load samples only the batch column), and
    a nested loop over a batch the planner guesses empty reads the batch again for each of its rows."""
    from tealeaves.quality.raw_gate import raw_validator

    with raw_validator(fresh_database) as validator, validator.datasource.get_engine().connect() as conn:
        assert conn.exec_driver_sql("show enable_nestloop").scalar() == "off"
