"""The warehouse's own tables come from versioned revisions: a new warehouse gets what tealeaves made before, an
existing one is adopted with every row, and any number of processes may ask for the upgrade at once.

The oracle is the DDL earlier releases ran at runtime, copied verbatim from git into legacy_ddl/ (extract.py):
`before_migrations.sql` from the last commit before revisions, `first_ledger.sql` from the first quality gate,
whose ledger had no 'loading' status nor the raw gate's columns and whose results held their samples.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tealeaves.db.migrate import current, ensure_current, head, upgrade
from tests.conftest import ROOT, create_database
from tests.warehouse import query

LEGACY = Path(__file__).with_name("legacy_ddl")
BASELINE = "0001"  # what the code before revisions made; later revisions are tested from it
SCHEMAS = ("raw", "quality", "quality_samples", "ltv")


def legacy(url: str, name: str) -> None:
    """Build the warehouse's tables as the release named did, by running its DDL."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((LEGACY / f"{name}.sql").read_text(encoding="utf-8"))


def catalogue(url: str) -> dict[str, set[tuple]]:
    """What PostgreSQL holds in tealeaves' fixed schemas, as PostgreSQL itself prints each object."""
    facts = {
        "relations": """
            select n.nspname, c.relname, c.relkind, obj_description(c.oid, 'pg_class')
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = any(%(s)s) and c.relkind in ('r', 'v', 'S', 'i', 'p')""",
        "columns": """
            select n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   pg_get_expr(d.adbin, d.adrelid), col_description(c.oid, a.attnum)
            from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
            left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
            where n.nspname = any(%(s)s) and c.relkind in ('r', 'v') and a.attnum > 0 and not a.attisdropped""",
        "constraints": """
            select n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid), k.convalidated
            from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = any(%(s)s)""",
        "indexes": "select schemaname, indexname, indexdef from pg_indexes where schemaname = any(%(s)s)",
        "views": "select schemaname, viewname, definition from pg_views where schemaname = any(%(s)s)",
        "triggers": """
            select c.relname, pg_get_triggerdef(t.oid) from pg_trigger t join pg_class c on c.oid = t.tgrelid
            join pg_namespace n on n.oid = c.relnamespace where n.nspname = any(%(s)s) and not t.tgisinternal""",
        "functions": """
            select p.proname, pg_get_functiondef(p.oid) from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname = any(%(s)s)""",
        "schemas": "select nspname from pg_namespace where nspname = any(%(s)s)",
    }
    with psycopg.connect(url) as conn:
        return {name: set(conn.execute(sql, {"s": list(SCHEMAS)}).fetchall()) for name, sql in facts.items()}


@pytest.fixture(scope="module")
def made_by_old_code(server) -> dict[str, set[tuple]]:
    url = create_database(server, "t_migrations_old_code")
    legacy(url, "before_migrations")
    return catalogue(url)


def test_a_new_warehouse_gets_exactly_the_tables_the_code_before_revisions_made(fresh_database, made_by_old_code):
    upgrade(fresh_database, to=BASELINE)
    found = catalogue(fresh_database)
    for kind, expected in made_by_old_code.items():
        assert found[kind] == expected, f"{kind}: new {found[kind] - expected}, missing {expected - found[kind]}"
    assert sum(len(facts) for facts in found.values()) > 100  # the comparison compared something
    with psycopg.connect(fresh_database) as conn:
        assert current(conn) == BASELINE
    assert query(fresh_database, "select to_regnamespace('quality_scratch') is not null") == [(True,)]


def test_the_version_is_kept_in_the_tealeaves_schema_not_in_alembic_version(fresh_database):
    ensure_current(fresh_database)
    tables = query(
        fresh_database,
        "select table_schema, table_name from information_schema.tables where table_name like '%%version%%'"
        " and table_schema not in ('pg_catalog', 'information_schema')",
    )
    assert tables == [("tealeaves", "schema_version")]
    assert query(fresh_database, "select version_num from tealeaves.schema_version") == [(head(),)]


ROWS = """
insert into raw.load_batches (source, entity, file_name, file_path, content_hash, rows_in, rows_loaded,
    rows_rejected, started_at, finished_at, status, error) values
    ('crm', 'companies', 'companies.csv', '/x/companies.csv', 'h1', 3, 2, 1, '2026-01-01', '2026-01-01', 'loaded',
     null),
    ('crm', 'companies', 'bad.csv', '/x/bad.csv', 'h2', null, null, null, '2026-01-02', '2026-01-02', 'failed',
     'no');
insert into raw.rejected_rows (batch_id, source, entity, file_name, line_number, raw_text, reason)
    select batch_id, 'crm', 'companies', 'companies.csv', 3, '3,Short', 'too short' from raw.load_batches
    where file_name = 'companies.csv';
create table raw.crm_companies (
    _batch_id bigint not null references raw.load_batches (batch_id), _source_line bigint not null,
    _loaded_at timestamptz not null default now(), hs_object_id bigint, name text);
insert into raw.crm_companies select batch_id, 2, '2026-01-01', 1, 'Acme' from raw.load_batches
    where file_name = 'companies.csv';
insert into quality.validation_runs values ('r1', 'fct_x', 'marts_build', 'fct_x', false, now(), now());
"""

ROWS_BEFORE_MIGRATIONS = """
insert into quality.expectation_results values
    ('r1', 'fct_x', 0, 'expect_column_values_to_be_between', 'spend', '{}', 'blocking', false, 1, null, now());
insert into quality_samples.expectation_samples values ('r1', 'fct_x', 0, '{"n": 9}', '[{"spend": -1}]', 'err');
insert into quality.alert_state (alert_key, status, level, notified, updated_at)
    values ('gate:d', 'failing', 1, true, now());
insert into quality.publications values (now(), 'r1', 'marts', '{"fct_x": 4}');
insert into ltv.model_fits (fit_id, run_id, kind, fitted_at, time_unit, n_customers, n_repeat_customers, converged,
    message, horizon_months, monthly_discount_rate) values ('daily__x', 'r1', 'pipeline', now(), 'weeks', 1, 1, true,
    'converged', 12, 0.01);
insert into ltv.customer_predictions values ('daily__x', 'c1', 1, 1, 2, 3, 0.5, 4, 1, 1, 1, 1, 1, 1, 9);
insert into ltv.backtest_customers values ('daily__x', 'c1', 1, 1.5, 2);
"""

KEPT = (
    "raw.load_batches",
    "raw.rejected_rows",
    "raw.crm_companies",
    "quality.validation_runs",
    "quality.expectation_results",
    "quality_samples.expectation_samples",
    "quality.alert_state",
    "quality.publications",
    "ltv.model_fits",
    "ltv.customer_predictions",
    "ltv.backtest_customers",
)


def rows_of(url: str, tables: tuple[str, ...]) -> dict[str, list[tuple]]:
    return {
        t: query(url, f"select * from {t} order by 1, 2")
        for t in tables
        if query(url, f"select to_regclass('{t}')")[0][0]
    }


def foreign_keys_to_ledger(url: str) -> list[tuple]:
    return query(
        url,
        "select conrelid::regclass::text, convalidated from pg_constraint"
        " where contype = 'f' and confrelid = 'raw.load_batches'::regclass order by 1",
    )


def test_a_warehouse_made_before_revisions_is_adopted_with_every_row(fresh_database, made_by_old_code):
    legacy(fresh_database, "before_migrations")
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(ROWS + ROWS_BEFORE_MIGRATIONS)
    before = rows_of(fresh_database, KEPT)
    assert all(before.values()) and len(before) == len(KEPT)

    assert upgrade(fresh_database, to=BASELINE) == (None, BASELINE)

    assert rows_of(fresh_database, KEPT) == before
    after = catalogue(fresh_database)
    after_tables = {kind: {f for f in facts if "crm_companies" not in f} for kind, facts in after.items()}
    assert after_tables == made_by_old_code
    # the raw table's per-row key went (issue 15); the quarantine's stays
    assert foreign_keys_to_ledger(fresh_database) == [("raw.rejected_rows", True)]


def test_the_oldest_ledger_and_results_reach_head_keeping_their_rows(fresh_database, made_by_old_code):
    legacy(fresh_database, "first_ledger")
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(ROWS)
        conn.execute(
            "insert into quality.expectation_results values ('r1', 'fct_x', 'expect_column_values_to_be_between',"
            " 'spend', '{}', 'blocking', false, '{\"n\": 9}', 1, '[{\"spend\": -1}]', null, now())"
        )
    ledger = query(fresh_database, "select batch_id, status, content_hash from raw.load_batches order by 1")
    raw_rows = query(fresh_database, "select * from raw.crm_companies")

    upgrade(fresh_database, to=BASELINE)

    assert query(fresh_database, "select batch_id, status, content_hash from raw.load_batches order by 1") == ledger
    assert query(fresh_database, "select distinct validation from raw.load_batches") == [("pending",)]
    assert query(fresh_database, "select * from raw.crm_companies") == raw_rows
    # the samples left `quality` for `quality_samples`, read back through the data team's view (the move numbers
    # a run's stored results from 1, as the code before revisions did; new runs number from 0)
    assert query(
        fresh_database,
        "select position, unexpected_count, observed_value, unexpected_sample from quality_samples.expectation_details",
    ) == [(1, 1, {"n": 9}, [{"spend": -1}])]
    after = catalogue(fresh_database)
    fixed = {kind: {f for f in facts if "crm_companies" not in f} for kind, facts in after.items()}
    for kind in ("relations", "constraints", "indexes", "views", "triggers", "functions", "schemas"):
        assert fixed[kind] == made_by_old_code[kind], kind
    # columns added by the old code's alters come last, as they did for that code: compared by name, not place
    assert fixed["columns"] == made_by_old_code["columns"]
    assert foreign_keys_to_ledger(fresh_database) == [("raw.rejected_rows", True)]
    with psycopg.connect(fresh_database, autocommit=True) as conn:  # the ledger takes a load's first line now
        conn.execute(
            "insert into raw.load_batches (source, entity, file_name, file_path, content_hash, started_at, status)"
            " values ('crm', 'companies', 'c.csv', '/x/c.csv', 'h3', now(), 'loading')"
        )


def test_revision_0002_adds_the_files_stat_to_the_ledger_keeping_its_lines(fresh_database, made_by_old_code):
    legacy(fresh_database, "before_migrations")
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(ROWS + ROWS_BEFORE_MIGRATIONS)
    upgrade(fresh_database, to=BASELINE)
    before = rows_of(fresh_database, KEPT)
    at_baseline = catalogue(fresh_database)

    assert upgrade(fresh_database, to="0002") == (BASELINE, "0002")

    kept = rows_of(fresh_database, KEPT)
    ledger = kept.pop("raw.load_batches")  # the new column comes last, null on the lines loaded before it
    assert [row[:-1] for row in ledger] == before.pop("raw.load_batches") and {row[-1] for row in ledger} == {None}
    assert kept == before
    after = catalogue(fresh_database)
    assert {kind: after[kind] - at_baseline[kind] for kind in after} == {
        **{kind: set() for kind in after},
        "columns": {
            (
                "raw",
                "load_batches",
                "file_stat",
                "text",
                False,
                None,
                "device:inode:size:mtime_ns:ctime_ns of the file when its load began; null before revision 0002, and"
                " for a file changed under two seconds before its load",
            )
        },
    }
    assert all(not (at_baseline[kind] - after[kind]) for kind in after)


def test_a_quarantine_whose_key_the_old_loads_dropped_gets_it_back(fresh_database):
    legacy(fresh_database, "before_migrations")
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(ROWS)
        # what every load_paths did from d124fe2 until revisions: drop every key to the ledger in raw
        conn.execute("alter table raw.rejected_rows drop constraint rejected_rows_batch_id_fkey")
        conn.execute("alter table raw.crm_companies drop constraint crm_companies__batch_id_fkey")
    rejected = query(fresh_database, "select * from raw.rejected_rows")

    ensure_current(fresh_database)

    assert foreign_keys_to_ledger(fresh_database) == [("raw.rejected_rows", True)]
    assert query(fresh_database, "select * from raw.rejected_rows") == rejected


def test_upgrading_again_changes_nothing(fresh_database):
    assert upgrade(fresh_database) == (None, head())
    first = catalogue(fresh_database)
    assert upgrade(fresh_database) == (head(), head())
    ensure_current(fresh_database)
    assert catalogue(fresh_database) == first
    assert query(fresh_database, "select count(*) from tealeaves.schema_version") == [(1,)]


UPGRADE = "import sys; from tealeaves.db.migrate import upgrade; print(*upgrade(sys.argv[1]))"


def test_processes_upgrading_at_once_wait_for_each_other_and_one_does_the_work(fresh_database):
    """Both start while the test holds the migrations lock: both must be queued on it (not racing past it), and
    once it is free exactly one upgrades and the other finds the work done."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'include'}:{ROOT}"}
    with psycopg.connect(fresh_database, autocommit=True) as holder:
        holder.execute("select pg_advisory_lock(hashtext('tealeaves.migrations'))")
        runs = [
            subprocess.Popen(
                [sys.executable, "-c", UPGRADE, fresh_database],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        deadline = time.monotonic() + 60
        waiting = 0
        while waiting < 2 and time.monotonic() < deadline and all(run.poll() is None for run in runs):
            time.sleep(0.2)
            (waiting,) = holder.execute(
                "select count(*) from pg_locks where locktype = 'advisory' and not granted"
                " and objid = hashtext('tealeaves.migrations')::oid"
            ).fetchone()
        assert waiting == 2, [run.communicate(timeout=60) for run in runs if run.poll() is not None]
        holder.execute("select pg_advisory_unlock(hashtext('tealeaves.migrations'))")
    outcomes = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in outcomes]
    assert sorted(out.split() for out, _ in outcomes) == sorted([["None", head()], [head(), head()]])
    assert query(fresh_database, "select version_num from tealeaves.schema_version") == [(head(),)]
    assert query(fresh_database, "select to_regclass('raw.load_batches') is not null") == [(True,)]


def test_a_warehouse_upgraded_by_a_newer_release_is_refused_not_touched(fresh_database):
    ensure_current(fresh_database)
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("update tealeaves.schema_version set version_num = '9999'")
    first = catalogue(fresh_database)
    with pytest.raises(RuntimeError, match="9999"):
        ensure_current(fresh_database)
    assert catalogue(fresh_database) == first
    assert query(fresh_database, "select version_num from tealeaves.schema_version") == [("9999",)]


def test_checking_on_a_connection_leaves_it_as_it_was_found(fresh_database):
    """The writers pass their own connection: the check must not leave it inside a transaction of its own."""
    ensure_current(fresh_database)
    with psycopg.connect(fresh_database) as conn:  # not autocommit
        ensure_current(conn)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with conn.transaction():
            conn.execute("insert into quality.publications values (now(), 'r', 'marts', '{}')")
    assert query(fresh_database, "select run_id from quality.publications") == [("r",)]
