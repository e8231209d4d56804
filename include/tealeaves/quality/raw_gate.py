"""The raw gate: every newly loaded batch is checked before dbt may build from it.

The loader guarantees shape (each row typed, or quarantined with its reason); the raw suites judge content:
a file of negative amounts, of conflicting copies of one invoice, or of a tenth of yesterday's rows loads
without a single rejected row, and must still not reach finance. Each pending batch is judged with the suite for
its table (`expectations/raw/<raw table>.py`) and the suite every batch gets (`expectations/raw/load_batches.py`:
rejected-row rate, row count against recent batches of the same file).

The pending batches of a table are validated together, in one GX validation per suite, so the gate's cost follows
the new rows rather than the number of files. The checks are row by row or grouped by batch, so a validation
that fails no blocking check fails none in any of its batches, and all of them pass; the warnings it found are
stored with it, each sampled row naming its batch. When it fails a blocking check, each of its batches is
validated again on its own, which says exactly which batch failed which check, as before.

A batch that fails a blocking expectation is marked `failed` in `raw.load_batches`: it stays in raw, and
staging skips it (dbt macro `audited_source`). A file the loader could not read at all (its ledger line has
status `failed`) holds the run back the same way. The gate keeps failing while any failed batch has not been
superseded by a later batch of the same file that passed, so a bad file holds the run back until it is fixed,
and the last good marts stay published meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg

from tealeaves import sources
from tealeaves.config import get_settings
from tealeaves.db.migrate import ensure_current
from tealeaves.load.ddl import BATCH_COLUMN
from tealeaves.quality.gate import Suite, Validator, _libpq_url, load_suites
from tealeaves.quality.results import GateResult, SuiteResult
from tealeaves.quality.store import save_run

LEDGER_SUITE = "load_batches"  # the suite every batch gets, whatever its table
NO_NESTED_LOOPS = "-c enable_nestloop=off"  # the raw gate's sessions (raw_validator)

# A batch the gate failed, or a file the loader could not read at all or whose load died (status 'failed'),
# holds the run back until a later batch of the same file, or the same content, has loaded and passed (a load
# killed while it waited, of a file already loaded, lost nothing).
HELD_BACK = """
select failed.batch_id, failed.source, failed.entity, failed.file_name, failed.error
from raw.load_batches as failed
where (failed.validation = 'failed' or failed.status = 'failed')
  and not exists (
      select from raw.load_batches as later
      where later.source = failed.source and later.entity = failed.entity
        and (later.file_name = failed.file_name and later.batch_id > failed.batch_id
             or later.content_hash = failed.content_hash)
        and later.status = 'loaded' and later.validation = 'passed'
  )
order by failed.batch_id
"""


@dataclass(frozen=True)
class Batch:
    batch_id: int
    source: str
    entity: str
    file_name: str
    load_error: str | None = None  # set when the loader could not read the file at all

    def describe(self) -> str:
        what = f"batch {self.batch_id} ({self.source}/{self.file_name})"
        return f"{what}: could not be loaded: {self.load_error}" if self.load_error else what


@dataclass(frozen=True)
class RawGateResult:
    gate: GateResult  # this run's validations, one suite result per (suite, batch)
    passed_batches: tuple[Batch, ...]
    failed_batches: tuple[Batch, ...]  # failed in this run
    held_back: tuple[Batch, ...]  # every failed batch not yet superseded, this run's included
    batches_of: dict[str, tuple[int, ...]] = field(default_factory=dict)  # suite result -> the batches it judged

    def results_for(self, batch_id: int) -> tuple[SuiteResult, ...]:
        """The results that judged a batch: its own, or one over several batches that all passed."""
        return tuple(r for r in self.gate.suites if batch_id in self.batches_of.get(r.suite, ()))

    @property
    def passed(self) -> bool:
        """True when dbt may build: nothing failed now and no earlier failed file is still waiting for a fix."""
        return self.gate.passed and not self.held_back

    def summary(self) -> str:
        lines = [
            f"Raw gate {'PASSED' if self.passed else 'FAILED'} for run {self.gate.run_id}:"
            f" {len(self.passed_batches)} batch(es) passed, {len(self.failed_batches)} failed now,"
            f" {len(self.held_back)} held back from staging."
        ]
        lines += [f"  held back: {b.describe()}" for b in self.held_back]
        if not self.gate.passed or self.gate.warnings:
            lines += self.gate.summary().splitlines()[1:]
        return "\n".join(lines)


def run_raw_gate(url: str, run_id: str, suites_dir: Path | None = None, docs_dir: Path | None = None) -> RawGateResult:
    """Validate every pending batch, record each verdict in `raw.load_batches`, and store the results."""
    directory = suites_dir if suites_dir is not None else get_settings().project_root / "expectations" / "raw"
    suites = {s.table: s for s in load_suites(directory)}
    if LEDGER_SUITE not in suites:
        raise FileNotFoundError(f"{directory}: no {LEDGER_SUITE}.py suite; every batch needs its ledger checks")
    tables = {(c.source, c.entity): c.table for c in sources.contracts().values()}
    with psycopg.connect(_libpq_url(url), autocommit=True) as conn:
        ensure_current(conn)
        pending = [
            Batch(*row)
            for row in conn.execute(
                "select batch_id, source, entity, file_name from raw.load_batches"
                " where status = 'loaded' and validation = 'pending' order by batch_id"
            )
        ]
        checks = [_Check(suites[LEDGER_SUITE], "load_batches", "batch_id", tuple(pending))] if pending else []
        table_of = {b.batch_id: tables.get((b.source, b.entity)) for b in pending}
        for table in sorted(set(table_of.values()) & (suites.keys() - {LEDGER_SUITE})):
            of_table = tuple(b for b in pending if table_of[b.batch_id] == table)
            checks.append(_Check(suites[table], table, BATCH_COLUMN, of_table))
        judged = _validate(url, checks, run_id, docs_dir) if checks else []
        results = [result for _, result in judged]
        failed_ids = {b.batch_id for check, result in judged if not result.success for b in check.batches}
        with conn.transaction():
            save_run(conn, run_id, results)
            for batch in pending:
                conn.execute(
                    "update raw.load_batches set validation = %s, validated_at = now(), validation_run_id = %s"
                    " where batch_id = %s",
                    ["failed" if batch.batch_id in failed_ids else "passed", run_id, batch.batch_id],
                )
        held_back = tuple(Batch(*row) for row in conn.execute(HELD_BACK))
    return RawGateResult(
        gate=GateResult(run_id=run_id, suites=tuple(results)),
        passed_batches=tuple(b for b in pending if b.batch_id not in failed_ids),
        failed_batches=tuple(b for b in pending if b.batch_id in failed_ids),
        held_back=held_back,
        batches_of={check.narrowed().name: tuple(b.batch_id for b in check.batches) for check, _ in judged},
    )


@dataclass(frozen=True)
class _Check:
    """One suite over some pending batches of the table it protects."""

    suite: Suite
    table: str
    batch_column: str
    batches: tuple[Batch, ...]

    def narrowed(self) -> Suite:
        """The suite on these batches' rows, named after them: `billing_invoices@batch12`, `...@batches 3-5,9`."""
        ids = [b.batch_id for b in self.batches]
        query = f'select * from raw."{self.table}" where "{self.batch_column}" in ({", ".join(map(str, ids))})'
        if len(ids) == 1:
            return replace(self.suite, name=f"{self.suite.name}@batch{ids[0]}", query=query)
        # a warning found in several batches at once names each sampled row's batch
        grain = self.suite.grain if self.batch_column in self.suite.grain else (self.batch_column, *self.suite.grain)
        return replace(self.suite, name=f"{self.suite.name}@batches {_ranges(ids)}", query=query, grain=grain)

    def one_by_one(self) -> list[_Check]:
        return [replace(self, batches=(batch,)) for batch in self.batches]


def raw_validator(url: str) -> Validator:
    """The validator of the raw gate, whose sessions never plan a nested loop.

    Each of the gate's queries reads one table's pending batches and joins them only to themselves (a key's repeats
    within a batch, a batch's row count) or to the small ledger. Raw tables have no index on a key, so a nested loop
    reads the batches' block ranges again for every row of its outer side, which is never the right plan here and is
    the one a planner picks when it guesses a batch holds a row or two. It guesses so when the statistics of a table
    predate the batch: a small load analyzes only the batch column, on a sample of 3,000 rows
    (tealeaves.load.ddl.refresh_statistics), which can miss a day's batch entirely. With no statistics of a day's
    batches at all, the gate took 3.7 and 5.6 s instead of 0.6 at 100,000 customers, and a nested loop's cost grows
    with the square of a batch's rows.
    """
    return Validator(url, session_options=NO_NESTED_LOOPS)


def _validate(url: str, checks: list[_Check], run_id: str, docs_dir: Path | None) -> list[tuple[_Check, SuiteResult]]:
    """Each check's batches together; where that fails, each of its batches again on its own."""
    with raw_validator(url) as validator:
        together = validator.validate("raw", [c.narrowed() for c in checks], {}, run_id)
        judged, again = [], []
        for check, result in zip(checks, together, strict=True):
            if len(check.batches) > 1 and not result.success:
                again += check.one_by_one()
            else:
                judged.append((check, result))
        if again:
            judged += zip(again, validator.validate("raw", [c.narrowed() for c in again], {}, run_id), strict=True)
        if docs_dir is not None:
            validator.build_docs(docs_dir)
    return judged


def _ranges(ids: list[int]) -> str:
    """Sorted batch ids as runs: [3, 4, 5, 9] -> "3-5,9"."""
    runs: list[list[int]] = []
    for batch_id in sorted(ids):
        if runs and batch_id == runs[-1][1] + 1:
            runs[-1][1] = batch_id
        else:
            runs.append([batch_id, batch_id])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


__all__ = ["Batch", "RawGateResult", "SuiteResult", "run_raw_gate"]
