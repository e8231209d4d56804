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

from tealeaves.db.migrate import ensure_current
from tealeaves.quality.results import SuiteResult

QUALITY = "quality"
# Rows the gate saw in data that may never be published (a failed build, a held-back raw batch): BI's
# `bi_reader` is granted `quality` but never this schema, so only the data team reads the evidence.
SAMPLES = "quality_samples"

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


# Serialises concurrent saves of one run: two deletes see no rows, then the second insert breaks the key.
_LOCK = "select pg_advisory_xact_lock(hashtext('tealeaves.quality'))"


def save_run(conn: psycopg.Connection, run_id: str, suites: Sequence[SuiteResult]) -> None:
    """Replace what is stored under `run_id` with these suites' results; `conn` must be in autocommit."""
    ensure_current(conn)  # the tables, made and changed by tealeaves.db.migrate's revisions
    with conn.transaction():
        conn.execute(_LOCK)
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
