"""Airflow's metadata database is migrated when it needs it, not on every run."""

from __future__ import annotations

import json
from importlib.metadata import version

import psycopg

from tealeaves.orchestrate import AIRFLOW_MIGRATED, migrate_airflow


def test_an_unchanged_metadata_database_is_not_migrated_again_and_an_upgrade_is(airflow_ready):
    settings = airflow_ready
    stamp = settings.airflow_home / AIRFLOW_MIGRATED
    recorded = json.loads(stamp.read_text())
    with psycopg.connect(settings.url(settings.airflow_metadata)) as conn:
        revisions = sorted(row[0] for row in conn.execute("select version_num from alembic_version"))
    assert recorded["revisions"] == revisions
    assert f"apache-airflow-core=={version('apache-airflow-core')}" in recorded["distributions"]

    written = stamp.stat().st_mtime_ns
    migrate_airflow(settings)
    assert stamp.stat().st_mtime_ns == written, "nothing changed: `airflow db migrate` did not run"

    # As after `pip install` of another Airflow: the recorded distributions no longer match the installed ones.
    stamp.write_text(json.dumps({**recorded, "distributions": ["apache-airflow-core==3.0.0"]}))
    migrate_airflow(settings)
    assert json.loads(stamp.read_text()) == recorded, "migrated, and the installed Airflow recorded again"
