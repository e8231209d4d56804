"""Keep every gate run in the `quality` schema, so "what failed last Tuesday, and how badly" is a query.

A run is identified by its `run_id` (the Airflow run, or a name given on the CLI). Saving a run replaces
whatever was stored under that `run_id`, in one transaction: retrying a task never duplicates rows and a
reader never sees half a run.

Outcomes (which check, on what, passed or not, how many rows offended, when) go to `quality`, which BI reads.
What GX observed and the offending rows themselves come from data that may never be published (a failed build,
a held-back raw batch), so they go to `quality_samples`, which no BI login is granted; the data team reads both
joined in `quality_samples.expectation_details`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import psycopg
from psycopg.types.json import Jsonb

from tealeaves.quality.results import SuiteResult

QUALITY = "quality"
# Rows the gate saw in data that may never be published (a failed build, a held-back raw batch): BI's
# `bi_reader` is granted `quality` but never this schema, so only the data team reads the evidence.
SAMPLES = "quality_samples"

DDL = """
create schema if not exists quality;
create schema if not exists quality_samples;
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
    position           integer not null,
    expectation_type   text not null,
    column_name        text,
    kwargs             jsonb not null,
    severity           text not null check (severity in ('blocking', 'warning')),
    success            boolean not null,
    unexpected_count   bigint,
    error              text,
    recorded_at        timestamptz not null,
    foreign key (run_id, suite) references quality.validation_runs (run_id, suite) on delete cascade
);
create table if not exists quality_samples.expectation_samples (
    run_id             text not null,
    suite              text not null,
    position           integer not null,
    observed_value     jsonb,
    unexpected_sample  jsonb not null,
    primary key (run_id, suite, position),
    foreign key (run_id, suite) references quality.validation_runs (run_id, suite) on delete cascade
);
alter table quality_samples.expectation_samples add column if not exists error text;
comment on column quality_samples.expectation_samples.error is
    'GX''s full error message, which may quote a value from the data; quality.expectation_results.error withholds it';
comment on table quality_samples.expectation_samples is
    'what each expectation observed and a few offending rows, from data that may not pass the gate: data team only';
do $$
begin  -- results stored before the samples moved out of `quality`: move them, then drop the columns
    if exists (
        select 1 from information_schema.columns
        where table_schema = 'quality' and table_name = 'expectation_results' and column_name = 'unexpected_sample'
    ) then
        alter table quality.expectation_results add column if not exists position integer;
        update quality.expectation_results as r set position = n.position
        from (
            select ctid, row_number() over (partition by run_id, suite order by ctid) as position
            from quality.expectation_results
        ) as n
        where r.ctid = n.ctid;
        insert into quality_samples.expectation_samples
        select run_id, suite, position, observed_value, unexpected_sample from quality.expectation_results;
        alter table quality.expectation_results
            drop column observed_value, drop column unexpected_sample, alter column position set not null;
    end if;
end $$;
comment on column quality.expectation_results.error is
    'why GX could not evaluate the expectation (missing table or column, bad SQL); the row counts as failed';
comment on column quality.expectation_results.position is
    'the expectation''s place in its suite; with run_id and suite, the key of quality_samples.expectation_samples';
create index if not exists expectation_results_run on quality.expectation_results (run_id, suite);
create or replace view quality_samples.expectation_details as
select r.run_id, r.suite, r.position, r.expectation_type, r.column_name, r.kwargs, r.severity, r.success,
       s.observed_value, r.unexpected_count, s.unexpected_sample, coalesce(s.error, r.error) as error, r.recorded_at
from quality.expectation_results as r
left join quality_samples.expectation_samples as s using (run_id, suite, position);
comment on view quality_samples.expectation_details is
    'every stored expectation outcome with what it observed and its offending rows: the data team''s view';
"""

# Values from the data come single-quoted anywhere (SQL literals) or double-quoted after a colon (`invalid input
# syntax for type integer: "4O"`); relation and column names are double-quoted without one. Details such as
# `Key (id)=(...)` come on later lines, which are dropped.
_QUOTED_VALUE = re.compile(r":\s*\"(?:[^\"]|\"\")*\"|'(?:[^']|'')*'")
_WITHHELD = "(a value, withheld; the data team sees it in quality_samples)"


def withhold_values(error: str | None) -> str | None:
    """The error as BI readers may see it: its first line, any value it quotes from the data withheld."""
    if error is None:
        return None
    first = error.strip().splitlines()[0] if error.strip() else error
    return _QUOTED_VALUE.sub(lambda m: (": " if m.group().startswith(":") else "") + _WITHHELD, first)


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
                " (run_id, suite, position, expectation_type, column_name, kwargs, severity, success,"
                "  unexpected_count, error, recorded_at)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        run_id,
                        o.suite,
                        position,
                        o.expectation_type,
                        o.column,
                        Jsonb(o.kwargs),
                        o.severity,
                        o.success,
                        o.unexpected_count,
                        withhold_values(o.error),
                        s.finished_at,
                    )
                    for s in suites
                    for position, o in enumerate(s.outcomes)
                ],
            )
            cur.executemany(
                "insert into quality_samples.expectation_samples"
                " (run_id, suite, position, observed_value, unexpected_sample, error) values (%s, %s, %s, %s, %s, %s)",
                [
                    (
                        run_id,
                        o.suite,
                        position,
                        None if o.observed_value is None else Jsonb(o.observed_value),
                        Jsonb(o.unexpected_sample),
                        o.error,
                    )
                    for s in suites
                    for position, o in enumerate(s.outcomes)
                ],
            )
