"""The raw gate: every newly loaded batch is checked before dbt may build from it.

The loader guarantees shape (each row typed, or quarantined with its reason); the raw suites judge content:
a file of negative amounts, of conflicting copies of one invoice, or of a tenth of yesterday's rows loads
without a single rejected row, and must still not reach finance. Each pending batch is validated on its own,
with the suite for its table (`expectations/raw/<raw table>.py`) and the suite every batch gets
(`expectations/raw/load_batches.py`: rejected-row rate, row count against recent batches of the same file).

A batch that fails a blocking expectation is marked `failed` in `raw.load_batches`: it stays in raw, and
staging skips it (dbt macro `audited_source`). A file the loader could not read at all (its ledger line has
status `failed`) holds the run back the same way. The gate keeps failing while any failed batch has not been
superseded by a later batch of the same file that passed, so a bad file holds the run back until it is fixed,
and the last good marts stay published meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import psycopg

from tealeaves import sources
from tealeaves.config import get_settings
from tealeaves.load.ddl import ensure_ledger
from tealeaves.quality.gate import Suite, _libpq_url, load_suites, validate_suites
from tealeaves.quality.results import GateResult, SuiteResult
from tealeaves.quality.store import save_run

LEDGER_SUITE = "load_batches"  # the suite every batch gets, whatever its table

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
        with conn.transaction():
            ensure_ledger(conn)
        pending = [
            Batch(*row)
            for row in conn.execute(
                "select batch_id, source, entity, file_name from raw.load_batches"
                " where status = 'loaded' and validation = 'pending' order by batch_id"
            )
        ]
        planned: list[tuple[Batch, Suite]] = []
        for batch in pending:
            planned.append((batch, _for_batch(suites[LEDGER_SUITE], batch, "load_batches", "batch_id")))
            table = tables.get((batch.source, batch.entity))
            if table in suites:
                planned.append((batch, _for_batch(suites[table], batch, table, "_batch_id")))
        results = validate_suites(url, "raw", [s for _, s in planned], {}, run_id, docs_dir) if planned else []
        failed_ids = {b.batch_id for (b, _), r in zip(planned, results, strict=True) if not r.success}
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
    )


def _for_batch(suite: Suite, batch: Batch, table: str, batch_column: str) -> Suite:
    """The suite narrowed to one batch's rows; named per batch, so each verdict is stored on its own."""
    query = f'select * from raw."{table}" where "{batch_column}" = {int(batch.batch_id)}'
    return replace(suite, name=f"{suite.name}@batch{batch.batch_id}", query=query)


__all__ = ["Batch", "RawGateResult", "SuiteResult", "run_raw_gate"]
