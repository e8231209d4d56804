"""`tealeaves run` on folders of exports, end to end through the real daily DAG, as a new user would.

One home (server, Airflow metadata) for the module; each test empties the warehouse first (`tealeaves db
reset --yes`, as the README says to switch folders), so no test depends on another's run. The folders:
- the CDNOW sample (`tealeaves sample cdnow`): a shop with one-off purchases and billing exports only. Oracle: the
  published BG/NBD fit of the same 39 weeks (Fader, Hardie & Lee 2005) and the sample's own customer count.
- a generated merchant in Australia/Sydney with billing and CRM exports only. Oracle: the realised MRR in its
  truth.json, read in Sydney months (tests/mrr_oracle.py).
- a generated help desk's exports only.
- a folder with an unreadable file: the run stops at the raw gate, names the task and why, publishes nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import psycopg
import pytest

from tealeaves.generate import generate
from tealeaves.orchestrate import DAILY_START, RunFailed, demo_world, forget_earlier_demo_world, run_daily
from tests.cli import tealeaves
from tests.conftest import create_database, free_port
from tests.mrr_oracle import billing_customer_keys, differences, generate_world, movements, oracle

BGNBD_PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
SYDNEY = {"customers": 150, "months": 6, "seed": 7, "timezone": "Australia/Sydney"}


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """Environment of a tealeaves home of its own (its own embedded server); the server stops afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEALEAVES_", "AIRFLOW"))}
    env.update(TEALEAVES_HOME=str(tmp_path_factory.mktemp("run-home")), TEALEAVES_PG_PORT=str(free_port()))
    yield env
    tealeaves(env, "db", "stop")


def run_fresh(env: dict[str, str], data: Path, *options: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """Empty the warehouse, then `tealeaves run --data <data> ...`; returns the result and the warehouse URL."""
    assert tealeaves(env, "db", "start").returncode == 0
    reset = tealeaves(env, "db", "reset", "--yes")
    assert reset.returncode == 0, reset.stderr
    result = tealeaves(env, "run", "--data", str(data), *options, timeout=1500)
    assert "Traceback" not in result.stdout + result.stderr
    return result, tealeaves(env, "db", "url").stdout.strip()


def blocking_failures(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*) filter (where not success and severity = 'blocking') from quality.expectation_results"
        ).fetchone()[0]


def coverage(url: str) -> dict[str, bool]:
    with psycopg.connect(url) as conn:
        return dict(
            conn.execute("select mart_name, bool_and(has_required_sources) from marts.mart_source_coverage group by 1")
        )


def test_a_billing_only_one_off_shop_runs_end_to_end_and_publishes_the_published_fit(home, tmp_path):
    data = tmp_path / "cdnow"
    assert tealeaves(home, "sample", "cdnow", "--out", str(data)).returncode == 0
    before = digests(data)

    result, url = run_fresh(home, data, "--as-of", "1997-09-30")

    assert result.returncode == 0, result.stderr[-3000:]
    with psycopg.connect(url) as conn:
        [(customers,)] = conn.execute("select count(*) from marts.dim_customers").fetchall()
        [fit] = conn.execute(
            "select n_customers, converged, bgnbd_r, bgnbd_alpha, bgnbd_a, bgnbd_b from marts.ltv_model_fit"
            " where fit_kind = 'pipeline'"
        ).fetchall()
    assert customers == 2357
    n, converged, r, alpha, a, b = fit
    assert converged and n == 2357
    for name, value in {"r": r, "alpha": alpha, "a": a, "b": b}.items():
        assert value == pytest.approx(BGNBD_PUBLISHED[name], rel=0.01), name
    assert blocking_failures(url) == 0
    published = coverage(url)
    assert published["fct_revenue_retention_monthly"] is False, "subscription marts say they lack subscriptions"
    assert published["dim_customers"] is True and published["fct_predicted_ltv"] is True
    assert digests(data) == before, "the run never writes into the user's folder"


def test_a_merchant_in_sydney_with_billing_and_crm_only_gets_sydney_months(home, tmp_path):
    world = generate_world(tmp_path / "sydney", **SYDNEY)
    for absent in ("support", "survey"):
        shutil.rmtree(world.exports / absent)

    result, url = run_fresh({**home, "TEALEAVES_TIMEZONE": "Australia/Sydney"}, world.exports)

    assert result.returncode == 0, result.stderr[-3000:]
    expected = oracle(world, billing_customer_keys(url), "Australia/Sydney")
    assert len(expected) > 400, "hundreds of customer-months are checked"
    assert differences(movements(url, "marts"), expected) == []
    assert blocking_failures(url) == 0
    published = coverage(url)
    assert published["fct_acquisition_cost"] is True and published["fct_revenue_retention_monthly"] is True
    assert published["fct_support_tickets"] is False


def test_a_help_desk_alone_runs_and_publishes_its_service_levels(home, tmp_path):
    exports = tmp_path / "world"
    generate(exports, customers=60, months=3, seed=5)
    for absent in ("billing", "crm", "survey"):
        shutil.rmtree(exports / absent)

    result, url = run_fresh(home, exports)

    assert result.returncode == 0, result.stderr[-3000:]
    with psycopg.connect(url) as conn:
        [(tickets,)] = conn.execute("select count(*) from marts.fct_support_tickets").fetchall()
        [(months,)] = conn.execute("select count(*) from marts.fct_support_performance_monthly").fetchall()
    assert tickets > 0 and months > 0
    assert blocking_failures(url) == 0
    published = coverage(url)
    assert published["fct_support_tickets"] is True
    assert published["dim_customers"] is False and published["fct_acquisition_cost"] is False
    with psycopg.connect(url) as conn:
        not_demanded = conn.execute(
            "select split_part(suite, '@', 1), severity, success from quality.expectation_results"
            " where expectation_type = 'expect_table_row_count_to_be_between' and not success order by 1"
        ).fetchall()
    assert not_demanded == [
        ("fct_acquisition_cost", "warning", False),
        ("fct_revenue_retention_monthly", "warning", False),
    ], "an empty mart without its exports is reported, not blocking"


def test_an_unreadable_file_stops_the_run_at_the_raw_gate_naming_the_task_and_the_reason(home, tmp_path):
    data = tmp_path / "broken"
    assert tealeaves(home, "sample", "cdnow", "--out", str(data)).returncode == 0
    (data / "billing" / "charges.jsonl").write_bytes(b"\xff\xfe not UTF-8\n")

    result, url = run_fresh(home, data)

    assert result.returncode == 1
    message = result.stderr
    assert "failed task validate_raw" in message and "charges.jsonl" in message and "not valid UTF-8" in message
    assert "full log:" in message
    with psycopg.connect(url) as conn:
        assert conn.execute("select to_regnamespace('marts')").fetchone()[0] is None, "nothing was published"


def test_a_second_folder_is_refused_until_the_warehouse_is_reset(home, tmp_path):
    """One warehouse reflects one folder: batches from another would be mixed into its marts."""
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        assert tealeaves(home, "sample", "cdnow", "--out", str(folder), "--through", "1997-01-31").returncode == 0
    assert tealeaves(home, "db", "start").returncode == 0
    assert tealeaves(home, "db", "reset", "--yes").returncode == 0
    assert tealeaves(home, "load", str(first)).returncode == 0

    refused = tealeaves(home, "run", "--data", str(second), timeout=1500)

    assert refused.returncode == 1 and "tealeaves db reset" in refused.stderr and str(first) in refused.stderr


def test_a_run_date_before_the_dags_start_is_refused_with_the_reason(settings):
    with pytest.raises(RunFailed, match="before tealeaves_daily's start date"):
        run_daily(settings, date.fromordinal(DAILY_START.toordinal() - 1))


def test_the_demo_world_lives_apart_from_user_exports(tmp_path, monkeypatch):
    """The demo generates into its own folder; a user's files in the data folder stay byte-identical, and the
    demo refuses a folder of its own that holds files it did not write."""
    from tealeaves.config import Settings

    monkeypatch.setenv("TEALEAVES_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TEALEAVES_DATA", raising=False)
    settings = Settings()
    mine = settings.data_dir / "billing" / "invoices.jsonl"
    mine.parent.mkdir(parents=True)
    mine.write_text('{"id": "in_mine"}\n')
    before = digests(settings.data_dir)

    folder = demo_world(settings, customers=20, months=1)

    assert folder != settings.data_dir and not folder.is_relative_to(settings.data_dir)
    assert (folder / "truth.json").exists() and digests(settings.data_dir) == before

    for p in folder.iterdir():
        if p.is_file():
            p.unlink()
    (folder / "notes.txt").write_text("not the demo's")
    with pytest.raises(RunFailed, match="holds files the demo did not write"):
        demo_world(settings, customers=20, months=1)


def test_a_new_demo_world_empties_a_warehouse_that_held_only_the_earlier_one(server, tmp_path):
    """When the demo writes its world again (another size, an upgraded generator), the earlier company's batches
    would meet the new files' in the raw gate's volume checks and in the marts: a warehouse holding only the demo
    folder's batches is emptied. One holding a batch from any other folder is left as it is."""
    from tealeaves.load import load_paths

    url = create_database(server, "t_demo_again")
    demo, mine = tmp_path / "demo", tmp_path / "mine"
    generate(demo, customers=20, months=1, seed=1)
    generate(mine, customers=20, months=1, seed=2)

    def batches() -> int | None:
        with psycopg.connect(url) as conn:
            if conn.execute("select to_regclass('raw.load_batches')").fetchone()[0] is None:
                return None
            return conn.execute("select count(*) from raw.load_batches").fetchone()[0]

    assert forget_earlier_demo_world(url, demo) is False, "nothing loaded yet: nothing to forget"
    load_paths(url, [demo / "billing"])
    assert batches() and forget_earlier_demo_world(url, demo) is True
    assert batches() is None

    load_paths(url, [demo / "billing"])
    load_paths(url, [mine / "crm"])
    held = batches()
    assert forget_earlier_demo_world(url, demo) is False
    assert batches() == held
