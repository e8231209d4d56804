"""Load export files into `raw`, one transaction per file, recorded in `raw.load_batches`.

Rows in = rows loaded + rows rejected, for every file: a row that does not fit its contract goes to
`raw.rejected_rows` with its line number, original text and the reason. The same content loaded twice is
a no-op (the content hash is the batch's identity), and a file that fails midway leaves nothing behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from tealeaves import sources
from tealeaves.load.ddl import RAW, ensure_ledger, ensure_table
from tealeaves.load.readers import READERS, LoadError
from tealeaves.sources import Column, Contract

__all__ = ["BatchResult", "LoadError", "load_file", "load_paths"]


@dataclass(frozen=True)
class BatchResult:
    source: str
    entity: str
    file: Path
    status: str  # loaded | unchanged
    batch_id: int | None
    rows_in: int
    rows_loaded: int
    rows_rejected: int


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _value_expr(contract: Contract, index: int, column: Column) -> sql.Composable:
    """The column's text value in `_incoming`: a CSV field, or a path into the JSON document."""
    if contract.format == "csv":
        return sql.SQL("nullif(trim({}), '')").format(sql.Identifier(f"c{index}"))
    operator = sql.SQL("#>") if column.type == "jsonb" else sql.SQL("#>>")
    path = sql.Literal("{" + ",".join(column.json_path) + "}")
    return sql.SQL("nullif(trim((_doc {} {})::text), '')").format(operator, path)


# PostgreSQL also accepts words ('now', 'yesterday', 'NaN', 'Infinity') and hex or underscored integers;
# an export that says 'yesterday' is broken, so values must also look like what the type promises.
SHAPES = {
    "bigint": r"^[-+]?[0-9]+$",
    "integer": r"^[-+]?[0-9]+$",
    "numeric": r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$",
    "date": r"^[0-9]",
    "timestamptz": r"^[0-9]",
}


def _reason_expr(contract: Contract) -> sql.Composable:
    """One SQL expression naming every problem with a row, or null when the row is good."""
    checks: list[sql.Composable] = []
    for index, column in enumerate(contract.columns):
        value = _value_expr(contract, index, column)
        if column.required:
            checks.append(
                sql.SQL("case when {v} is null then {msg} end").format(
                    v=value, msg=sql.Literal(f"{column.name}: required value is missing")
                )
            )
        if column.type != "text":
            checks.append(
                sql.SQL(
                    "case when {v} is not null and ({v} !~ {shape} or not pg_input_is_valid({v}, {t})) "
                    "then {name} || ': ' || quote_literal(left({v}, 60)) || {msg} end"
                ).format(
                    v=value,
                    t=sql.Literal(column.type),
                    name=sql.Literal(column.name),
                    shape=sql.Literal(SHAPES.get(column.type, "")),
                    msg=sql.Literal(f" is not a valid {column.type}"),
                )
            )
    return sql.SQL("nullif(concat_ws('; ', {}), '')").format(sql.SQL(", ").join(checks))


def _stage(conn: psycopg.Connection, path: Path, contract: Contract) -> None:
    """COPY the file's records into a temporary all-text table, with shape problems already noted."""
    width = len(contract.columns) if contract.format == "csv" else 0
    text_columns = [sql.SQL("{} text").format(sql.Identifier(f"c{i}")) for i in range(width)]
    conn.execute(
        sql.SQL("create temp table _incoming (_line bigint, _raw text, _problem text{}) on commit drop").format(
            sql.SQL("").join(sql.SQL(", ") + c for c in text_columns)
        )
    )
    with conn.cursor().copy("copy _incoming from stdin") as copy:
        for record in READERS[contract.format](path, contract):
            copy.write_row((record.line, record.raw, record.problem, *(record.values or [None] * width)))
    if contract.is_json:
        # Judge each line with PostgreSQL's own JSON parser; keep the parsed document for the next step.
        conn.execute("""
            alter table _incoming add column _doc jsonb;
            update _incoming set _problem = 'not a valid JSON object'
             where _problem is null and not pg_input_is_valid(_raw, 'jsonb');
            update _incoming set _doc = _raw::jsonb where _problem is null;
            update _incoming set _problem = 'not a JSON object', _doc = null
             where _doc is not null and jsonb_typeof(_doc) <> 'object';
        """)
    conn.execute(sql.SQL("update _incoming set _problem = {} where _problem is null").format(_reason_expr(contract)))


def _publish_batch(conn: psycopg.Connection, batch_id: int, path: Path, contract: Contract) -> tuple[int, int]:
    table = sql.Identifier(RAW, contract.table)
    columns = sql.SQL(", ").join(sql.Identifier(c.name) for c in contract.columns)
    values = sql.SQL(", ").join(
        sql.SQL("{}::{}").format(_value_expr(contract, i, c), sql.SQL(c.type)) for i, c in enumerate(contract.columns)
    )
    loaded = conn.execute(
        sql.SQL(
            "insert into {} (_batch_id, _source_line, {}) select %s, _line, {} from _incoming where _problem is null"
        ).format(table, columns, values),
        [batch_id],
    ).rowcount
    rejected = conn.execute(
        "insert into raw.rejected_rows (batch_id, source, entity, file_name, line_number, raw_text, reason)"
        " select %s, %s, %s, %s, _line, _raw, _problem from _incoming where _problem is not null",
        [batch_id, contract.source, contract.entity, path.name],
    ).rowcount
    return loaded, rejected


def load_file(conn: psycopg.Connection, path: Path, contract: Contract) -> BatchResult:
    """Load one file in one transaction. `conn` must not be inside a transaction."""
    path = path.resolve()
    digest = file_hash(path)
    started = datetime.now(UTC)
    with conn.transaction():  # DDL first, in a short transaction of its own, so loads run in parallel
        ensure_ledger(conn)
        ensure_table(conn, contract)
    try:
        with conn.transaction():
            # One loader per raw table at a time; a second one waits, then sees the first one's batch.
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", [contract.table])
            if conn.execute(
                "select 1 from raw.load_batches where source = %s and entity = %s and content_hash = %s"
                " and status = 'loaded'",
                [contract.source, contract.entity, digest],
            ).fetchone():
                return BatchResult(contract.source, contract.entity, path, "unchanged", None, 0, 0, 0)
            batch_id = conn.execute(
                "insert into raw.load_batches (source, entity, file_name, file_path, content_hash, started_at,"
                " status) values (%s, %s, %s, %s, %s, %s, 'loaded') returning batch_id",
                [contract.source, contract.entity, path.name, str(path), digest, started],
            ).fetchone()[0]
            _stage(conn, path, contract)
            loaded, rejected = _publish_batch(conn, batch_id, path, contract)
            conn.execute(
                "update raw.load_batches set rows_in = %s, rows_loaded = %s, rows_rejected = %s,"
                " finished_at = clock_timestamp() where batch_id = %s",
                [loaded + rejected, loaded, rejected, batch_id],
            )
    except UnicodeDecodeError as exc:
        error = LoadError(f"{path}: not valid UTF-8 at byte {exc.start} ({exc.reason}); re-export the file as UTF-8")
        _record_failure(conn, path, contract, digest, started, str(error))
        raise error from None
    except LoadError as exc:
        _record_failure(conn, path, contract, digest, started, str(exc))
        raise
    return BatchResult(contract.source, contract.entity, path, "loaded", batch_id, loaded + rejected, loaded, rejected)


def _record_failure(conn, path: Path, contract: Contract, digest: str, started: datetime, error: str) -> None:
    """The failed attempt is rolled back whole; only this ledger line remains, saying why."""
    with conn.transaction():
        ensure_ledger(conn)
        conn.execute(
            "insert into raw.load_batches (source, entity, file_name, file_path, content_hash, started_at,"
            " finished_at, status, error) values (%s, %s, %s, %s, %s, %s, clock_timestamp(), 'failed', %s)",
            [contract.source, contract.entity, path.name, str(path), digest, started, error],
        )


def expand_paths(paths: Iterable[Path], source: str | None) -> list[tuple[Path, Contract]]:
    """Files to load with their contracts; a folder means every file in it that has a contract."""
    plan: list[tuple[Path, Contract]] = []
    for path in paths:
        if not path.exists():
            raise LoadError(f"{path}: no such file or folder")
        if path.is_dir():
            wanted = sources.for_source(source) if source else list(sources.contracts().values())
            matched = [(f, c) for c in wanted for f in sorted(path.glob(c.file)) if f.is_file()]
            if not matched:
                raise LoadError(f"{path}: no export files here; expected any of {[c.file for c in wanted]}")
            plan.extend(matched)
        else:
            try:
                plan.append((path, sources.for_file(path, source)))
            except KeyError as exc:
                raise LoadError(exc.args[0]) from None
    return plan


def load_paths(dsn: str, paths: Iterable[Path], source: str | None = None) -> list[BatchResult]:
    """The one load path for the CLI and the DAG."""
    if source is not None and source not in sources.sources():
        raise LoadError(f"unknown source {source!r}; known sources: {', '.join(sources.sources())}")
    plan = expand_paths(paths, source)
    with psycopg.connect(dsn, autocommit=True) as conn:
        return [load_file(conn, path, contract) for path, contract in plan]
