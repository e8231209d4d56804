"""Keep every gate run in the `quality` schema, so "what failed last Tuesday, and how badly" is a query.

A run is identified by its `run_id` (the Airflow run, or a name given on the CLI). Saving a run replaces
whatever was stored under that `run_id`, in one transaction: retrying a task never duplicates rows and a
reader never sees half a run.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg.types.json import Jsonb

from tealeaves.quality.results import SuiteResult

QUALITY = "quality"

DDL = """
create schema if not exists quality;
create table if not exists quality.validation_runs (
    run_id       text not null,
    suite        text not null,
    schema_name  text not null,
    table_name   text not null,
    success      boolean not null,
    started_at   timestamptz not null,
    finished_at  timestamptz not null,
    primary key (run_id, suite)
);
comment on column quality.validation_runs.success is
    'true when the suite ran and no blocking expectation failed (warnings do not count)';
create table if not exists quality.expectation_results (
    run_id             text not null,
    suite              text not null,
    expectation_type   text not null,
    column_name        text,
    kwargs             jsonb not null,
    severity           text not null check (severity in ('blocking', 'warning')),
    success            boolean not null,
    observed_value     jsonb,
    unexpected_count   bigint,
    unexpected_sample  jsonb not null,
    error              text,
    recorded_at        timestamptz not null,
    foreign key (run_id, suite) references quality.validation_runs (run_id, suite) on delete cascade
);
comment on column quality.expectation_results.error is
    'why GX could not evaluate the expectation (missing table or column, bad SQL); the row counts as failed';
create index if not exists expectation_results_run on quality.expectation_results (run_id, suite);
"""

# Serialises concurrent gate runs around the DDL and the replace: `create ... if not exists` races otherwise.
_LOCK = "select pg_advisory_xact_lock(hashtext('tealeaves.quality'))"


def save_run(conn: psycopg.Connection, run_id: str, suites: Sequence[SuiteResult]) -> None:
    """Replace what is stored under `run_id` with these suites' results; `conn` must be in autocommit."""
    with conn.transaction():
        conn.execute(_LOCK)
        conn.execute(DDL)
        conn.execute("delete from quality.validation_runs where run_id = %s", [run_id])  # results cascade
        with conn.cursor() as cur:
            cur.executemany(
                "insert into quality.validation_runs"
                " (run_id, suite, schema_name, table_name, success, started_at, finished_at)"
                " values (%s, %s, %s, %s, %s, %s, %s)",
                [(run_id, s.suite, s.schema, s.table, s.success, s.started_at, s.finished_at) for s in suites],
            )
            cur.executemany(
                "insert into quality.expectation_results"
                " (run_id, suite, expectation_type, column_name, kwargs, severity, success, observed_value,"
                "  unexpected_count, unexpected_sample, error, recorded_at)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        run_id,
                        o.suite,
                        o.expectation_type,
                        o.column,
                        Jsonb(o.kwargs),
                        o.severity,
                        o.success,
                        None if o.observed_value is None else Jsonb(o.observed_value),
                        o.unexpected_count,
                        Jsonb(o.unexpected_sample),
                        o.error,
                        s.finished_at,
                    )
                    for s in suites
                    for o in s.outcomes
                ],
            )
