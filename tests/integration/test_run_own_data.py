"""`tealeaves run` on a folder of exports nobody here wrote, end to end through the real daily DAG.

The folder is the CDNOW sample (`tealeaves sample cdnow`): a shop with one-off purchases only and billing
exports only - no subscriptions, CRM, help desk or surveys. Oracles from outside the code: the published
BG/NBD fit of the same 39 weeks (Fader, Hardie & Lee 2005) and the sample file's own customer count.
"""

from __future__ import annotations

import hashlib
import subprocess
from datetime import date
from pathlib import Path

import psycopg
import pytest

from tealeaves.orchestrate import DAILY_START, RunFailed, demo_world, run_daily
from tests.conftest import TEALEAVES

BGNBD_PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def cdnow_run(tmp_path_factory):
    """`tealeaves sample cdnow`, then `tealeaves run --data ... --as-of 1997-09-30` in a home of its own."""
    import os

    from tests.conftest import free_port

    home = tmp_path_factory.mktemp("run-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEALEAVES_", "AIRFLOW"))}
    env.update(TEALEAVES_HOME=str(home), TEALEAVES_PG_PORT=str(free_port()))
    data = tmp_path_factory.mktemp("cdnow-exports")
    sample = subprocess.run([TEALEAVES, "sample", "cdnow", "--out", str(data)], env=env, capture_output=True, text=True)
    assert sample.returncode == 0, sample.stderr
    before = digests(data)
    result = subprocess.run(
        [TEALEAVES, "run", "--data", str(data), "--as-of", "1997-09-30"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    url = subprocess.run([TEALEAVES, "db", "url"], env=env, capture_output=True, text=True).stdout.strip()
    yield result, url, data, before
    subprocess.run([TEALEAVES, "db", "stop"], env=env, capture_output=True)


def test_a_billing_only_one_off_shop_runs_end_to_end_and_publishes(cdnow_run):
    result, url, _, _ = cdnow_run
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    with psycopg.connect(url) as conn:
        [(customers,)] = conn.execute("select count(*) from marts.dim_customers").fetchall()
        [fit] = conn.execute(
            "select n_customers, converged, bgnbd_r, bgnbd_alpha, bgnbd_a, bgnbd_b from marts.ltv_model_fit"
            " where fit_kind = 'pipeline'"
        ).fetchall()
        passed = conn.execute(
            "select count(*) filter (where not success and severity = 'blocking') from quality.expectation_results"
        ).fetchone()[0]
        coverage = dict(
            conn.execute(
                "select mart_name, bool_and(has_required_sources) from marts.mart_source_coverage group by 1"
            ).fetchall()
        )
    assert customers == 2357
    n, converged, r, alpha, a, b = fit
    assert converged and n == 2357
    for name, value in {"r": r, "alpha": alpha, "a": a, "b": b}.items():
        assert value == pytest.approx(BGNBD_PUBLISHED[name], rel=0.01), name
    assert passed == 0, "the gate passed: no blocking failure recorded"
    assert coverage["fct_revenue_retention_monthly"] is False, "subscription marts say they lack subscriptions"
    assert coverage["dim_customers"] is True and coverage["fct_predicted_ltv"] is True


def test_the_run_never_writes_into_the_users_folder(cdnow_run):
    _, _, data, before = cdnow_run
    assert digests(data) == before


def test_a_run_date_before_the_dags_start_is_refused_with_the_reason(settings):
    with pytest.raises(RunFailed, match="before tealeaves_daily's start date"):
        run_daily(settings, date.fromordinal(DAILY_START.toordinal() - 1))


def test_the_demo_world_lives_apart_from_user_exports(tmp_path, monkeypatch):
    """The demo generates into its own folder; a user's files in the data folder stay byte-identical, and the
    demo refuses a folder of its own that holds files it did not write."""
    from tealeaves.config import Settings

    monkeypatch.setenv("TEALEAVES_HOME", str(tmp_path / "home"))
    settings = Settings()
    mine = settings.data_dir / "billing" / "invoices.jsonl"
    mine.parent.mkdir(parents=True)
    mine.write_text('{"id": "in_mine"}\n')
    before = digests(settings.data_dir)

    folder = demo_world(settings, customers=20, months=1)

    assert folder != settings.data_dir and not folder.is_relative_to(settings.data_dir)
    assert (folder / "truth.json").exists() and digests(settings.data_dir) == before

    stranger = tmp_path / "home" / "demo" / "data"
    for p in stranger.iterdir():
        if p.is_file():
            p.unlink()
    (stranger / "notes.txt").write_text("not the demo's")
    with pytest.raises(RunFailed, match="holds files the demo did not write"):
        demo_world(settings, customers=20, months=1)
