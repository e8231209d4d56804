"""State tables made before their newer columns get them on the next build, and the models carry on (issue 15).

Each schema of incremental models keeps a table of what each model went through, `incremental_state`
(macros/incremental_by_key.sql). The columns added to it since it was first made (restaged_at, failures_seen_at)
are added to an older table at the start of every run (upgrade_incremental_state), before any model reads or
writes them: without that, the first build after an upgrade stopped on the missing column.

Added to an older table, restaged_at is unknown, and a staging model's next record takes an unknown one as a
re-stage now (record_incremental_state): the models reading it recompute everything once, to the same rows, and
are incremental again from the build after. Oracle: the catalog, the model's rows before and after, and the
model's own plans in dbt's log.
"""

from __future__ import annotations

from collections import Counter

import psycopg

from tests.conftest import dbt_build, incremental_plans

NEWER_COLUMNS = ("restaged_at", "failures_seen_at")
STATE_TABLES = ("staging.incremental_state", "intermediate.incremental_state")
MODEL = "int_company_domains"  # an incremental model of intermediate, reading an incremental staging model
COLUMNS = "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped"


def _rows(conn: psycopg.Connection) -> Counter:
    return Counter(row for (row,) in conn.execute(f"select t::text from intermediate.{MODEL} as t"))


def test_state_tables_made_before_their_newer_columns_get_them_and_the_models_carry_on(pipeline, tmp_path):
    url, _, _ = pipeline("state_columns", f"+{MODEL}", customers=60, months=3, seed=11)
    with psycopg.connect(url, autocommit=True) as conn:
        before = _rows(conn)
        assert sum(before.values()) > 0
        for table in STATE_TABLES:
            for column in NEWER_COLUMNS:
                conn.execute(f"alter table {table} drop column {column}")

    dbt_build(url, f"+{MODEL}", tmp_path / "upgraded", debug_log=True)

    with psycopg.connect(url) as conn:
        for table in STATE_TABLES:
            columns = {name for (name,) in conn.execute(COLUMNS, [table])}
            assert columns >= set(NEWER_COLUMNS), table
            for column in NEWER_COLUMNS:
                unrecorded = conn.execute(f"select model from {table} where {column} is null").fetchall()
                assert unrecorded == [], f"{table}: every model built records its {column}"
        assert _rows(conn) == before
    assert set(incremental_plans(tmp_path / "upgraded", MODEL)) == {"a staging table it reads was re-staged whole"}

    dbt_build(url, f"+{MODEL}", tmp_path / "next", debug_log=True)
    assert set(incremental_plans(tmp_path / "next", MODEL)) == {"incremental"}, "recomputed once, then carried on"
    with psycopg.connect(url) as conn:
        assert _rows(conn) == before
