"""Load export files into `raw`, one transaction per file, recorded in `raw.load_batches`.

Rows in = rows loaded + rows rejected, for every file: a row that does not fit its contract goes to
`raw.rejected_rows` with its line number, original text and the reason. The same content loaded twice is
a no-op (the content hash is the batch's identity), and a file that fails midway leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from tealeaves import sources
from tealeaves.config import get_settings
from tealeaves.db.migrate import ensure_current
from tealeaves.load.csv_screen import DIGIT_FIRST, NotOneLinePerRecord, blocks, line_ends
from tealeaves.load.ddl import (
    RAW,
    ensure_raw_schema,
    ensure_table,
    lock_raw_ddl,
    refresh_statistics,
    summarize_block_range_indexes,
)
from tealeaves.load.readers import MAX_JSON_DEPTH, READERS, LoadError, csv_layout
from tealeaves.load.typed_copy import MostlyDoubtful, copy_into_raw, skipped_lines, stage_lines, takes_typed_copy
from tealeaves.sources import Column, Contract

__all__ = ["BatchResult", "LoadError", "WarehouseLost", "load_file", "load_paths", "mark_interrupted"]


@dataclass(frozen=True)
class BatchResult:
    source: str
    entity: str
    file: Path
    status: str  # loaded | unchanged | failed
    batch_id: int | None
    rows_in: int
    rows_loaded: int
    rows_rejected: int
    error: str | None = None  # why a failed file could not be loaded, one line naming the file


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# A file changed this recently may still be changing within one tick of the file system's clock, which stamps a
# write's times (coarsely, by the millisecond): its stat is not kept, and the next load reads it again.
SETTLED_NS = 2_000_000_000


def file_stat(path: Path) -> str | None:
    """What the file system says of the file (device, inode, size, modification and change times, ns), which any
    write changes: a loaded batch whose file still has it is unchanged without reading it (the ledger's
    file_stat, revision 0002). None for a file that cannot be read or changed under two seconds ago.

    Asked of the open file, not of its name: opening makes a network file system (NFS, SMB) look again at the
    server's attributes, where a bare stat may answer from a cache up to a minute old."""
    try:
        with open(path, "rb") as handle:
            st = os.fstat(handle.fileno())
    except OSError:
        return None
    if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < SETTLED_NS:
        return None
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def _text_expr(contract: Contract, index: int, column: Column) -> sql.Composable:
    """The column's text as it arrives: a CSV field, or a path into the parsed JSON document."""
    if contract.format == "csv":
        return sql.Identifier(f"c{index}")
    path = column.json_path
    if len(path) == 1:  # `->>` finds a key without unpacking a path array
        operator, where = ("->" if column.type == "jsonb" else "->>"), sql.Literal(path[0])
    else:
        operator, where = ("#>" if column.type == "jsonb" else "#>>"), sql.Literal("{" + ",".join(path) + "}")
    return sql.SQL("(_doc {} {})::text").format(sql.SQL(operator), where)


def _value_expr(text: sql.Composable, may_be_empty: bool = True) -> sql.Composable:
    """The value to check and store: the text without surrounding spaces, null when that leaves nothing.

    Trimming costs more than the checks, and only a value that starts or ends with a space needs it: two
    anchored LIKEs find those, where a search for a space anywhere sent every name and sentence through
    `trim` (500,000 company names: 0.22 s with `strpos`, 0.09 s with the LIKEs). A CSV field is never empty
    text when staged (both CSV paths stage an empty field as null), so it needs no `nullif` unless trimmed.
    """
    untrimmed = sql.SQL("nullif({t}, '')" if may_be_empty else "{t}").format(t=text)
    return sql.SQL("case when {t} like ' %' or {t} like '% ' then nullif(trim({t}), '') else {u} end").format(
        t=text, u=untrimmed
    )


def _value(index: int) -> sql.Identifier:
    return sql.Identifier(f"v{index}")


def _checks(contract: Contract) -> list[tuple[sql.Composable, sql.Composable]]:
    """Each rule on the values v0..vn as (holds, problem): a condition, and the message when it does not hold."""
    checks: list[tuple[sql.Composable, sql.Composable]] = []
    for index, column in enumerate(contract.columns):
        value = _value(index)
        if column.required:
            checks.append(
                (
                    sql.SQL("{} is not null").format(value),
                    sql.Literal(f"{column.name}: required value is missing"),
                )
            )
        if column.type == "text":
            continue
        valid = sql.SQL("pg_input_is_valid({v}, {t})").format(v=value, t=sql.Literal(column.type))
        if column.type in DIGIT_FIRST:  # a first-character code test: a regular expression costs more than the type
            valid = sql.SQL(
                "(ascii({v}) between 48 and 57"
                " or ascii({v}) in (43, 45, 46) and ascii(substr({v}, 2)) between 48 and 57) and {valid}"
            ).format(v=value, valid=valid)
        checks.append(
            (
                sql.SQL("({v} is null or {valid})").format(v=value, valid=valid),
                sql.SQL("{name} || ': ' || quote_literal(left({v}, 60)) || {msg}").format(
                    v=value, name=sql.Literal(column.name), msg=sql.Literal(f" is not a valid {column.type}")
                ),
            )
        )
    return checks


def _good_expr(contract: Contract) -> sql.Composable:
    """True when the staged record goes to raw: it has no problem of shape, is a JSON object, passes every check."""
    conditions = [sql.SQL("_problem is null")]
    if contract.is_json:
        conditions.append(sql.SQL("jsonb_typeof(_doc) = 'object'"))
    conditions += [holds for holds, _ in _checks(contract)]
    return sql.SQL(" and ").join(conditions)


def _reason_expr(contract: Contract) -> sql.Composable:
    """Every problem with a record, in one line; reads the same values as `_good_expr`, for the few rejected rows."""
    problems = sql.SQL(", ").join(
        sql.SQL("case when not ({}) then {} end").format(holds, problem) for holds, problem in _checks(contract)
    )
    shape = sql.SQL("")
    if contract.is_json:
        shape = sql.SQL(
            " case when _doc is null then 'not a valid JSON object'"
            " when jsonb_typeof(_doc) <> 'object' then 'not a JSON object' end,"
        )
    return sql.SQL("coalesce(_problem,{}nullif(concat_ws('; ', {}), ''))").format(shape, problems)


def _create_incoming(conn: psycopg.Connection, contract: Contract, first_line: int | None = None) -> None:
    """A temporary table for the file's records, as text (and, for JSON, as parsed by the fast path: `_doc`);
    dropped when the file's transaction ends.

    The fast paths number the records with an identity. Its sequence is the session's own, so a cache hands out
    the same consecutive numbers without reading and writing the sequence for every row (10% of the COPY).
    """
    width = len(contract.columns) if contract.format == "csv" else 0
    line = (
        sql.SQL("_line bigint generated by default as identity (start with {} cache 100000)").format(
            sql.Literal(first_line)
        )
        if first_line
        else sql.SQL("_line bigint")
    )
    text_columns = [sql.SQL(", {} text").format(sql.Identifier(f"c{i}")) for i in range(width)]
    parsed = sql.SQL(", _doc jsonb" if contract.is_json else "")
    conn.execute(
        sql.SQL("create temp table _incoming ({}, _raw text, _problem text{}{}) on commit drop").format(
            line, sql.SQL("").join(text_columns), parsed
        )
    )


class _NeedsExactPath(Exception):
    """PostgreSQL's COPY could not take the file as it is; Python's reader will, line by line."""


def _copy_lines(
    conn: psycopg.Connection,
    copy: sql.Composable,
    path: Path,
    offset: int,
    screen: Callable[[bytes], bool],
    skipped: list[int] | None = None,
) -> int:
    """COPY the file from `offset` as it is, then check that each physical line became one staged record.

    `screen` sees every chunk and says whether the fast path must be left. Line numbers come from the
    record order, which only holds when every record is one physical line: a file where COPY merged or split
    lines raises `_NeedsExactPath`, as does one where it refused lines, unless `skipped` holds them (the lines a
    COPY with `on_error ignore` left out, from `skipped_lines`). Returns the number of physical lines.
    """
    physical = 0
    cursor = conn.cursor()
    with cursor.copy(copy) as into, open(path, "rb") as handle:
        handle.seek(offset)
        last = b"\n"
        while chunk := handle.read(1 << 20):
            if screen(chunk):
                raise _NeedsExactPath
            physical += chunk.count(b"\n")
            last = chunk[-1:]
            into.write(chunk)
    physical += last != b"\n"
    if cursor.rowcount + len(skipped or ()) != physical:
        raise _NeedsExactPath
    return physical


def _stage_csv_fast(conn: psycopg.Connection, path: Path, contract: Contract) -> bool:
    """COPY the records straight into `_incoming` with PostgreSQL's own CSV parser (the common, fast case).

    Taken only when every record is one physical line; a file with broken rows, blank lines, NUL bytes, bad
    encoding or multi-line fields goes to the exact path instead, which keeps the original text of every row.
    Returns whether the fast path was taken.
    """
    layout = csv_layout(path, contract)
    if not layout.lf_lines:
        return False
    target = sql.SQL(", ").join(sql.Identifier(f"c{i}") for i in layout.columns)
    try:
        with conn.transaction():
            _create_incoming(conn, contract, first_line=layout.first_line)
            # force_null: a quoted empty field ("") is staged as null too, as the exact path stages it
            copy = sql.SQL("copy _incoming ({t}) from stdin with (format csv, force_null ({t}))").format(t=target)
            _copy_lines(conn, copy, path, layout.data_offset, lambda chunk: False)
    except (psycopg.DataError, psycopg.errors.BadCopyFileFormat, _NeedsExactPath):
        return False
    return True


def _copy_csv_typed(conn: psycopg.Connection, path: Path, contract: Contract, batch_id: int) -> int | None:
    """Write the file's sure lines typed straight into raw and stage the others in `_incoming` for the text rules
    (see `typed_copy`); returns the rows written, or None, with nothing written, when the file needs another path.
    """
    if contract.format != "csv":
        return None
    layout = csv_layout(path, contract)
    if not takes_typed_copy(contract, layout):
        return None
    try:
        with conn.transaction():
            _create_incoming(conn, contract)
            written, left = copy_into_raw(conn, path, contract, layout, batch_id)
            stage_lines(conn, path, layout, left)
    except (psycopg.DataError, psycopg.errors.BadCopyFileFormat, NotOneLinePerRecord, MostlyDoubtful):
        return None
    return written


# JSON text never holds these raw bytes (control characters must be escaped), so as CSV quote and delimiter
# they make PostgreSQL's COPY take each line whole, backslashes and all. Each line is parsed into jsonb as it is
# copied, as a plain COPY into a jsonb column parses it; one that jsonb refuses is skipped (`on_error ignore`).
_JSONL_COPY = (
    "copy _incoming (_doc) from stdin with"
    " (format csv, quote e'\\x01', delimiter e'\\x02', on_error ignore, log_verbosity verbose)"
)
_NOT_OPENING = bytes(b for b in range(256) if b not in b"[{\n")
_MANY_OPENINGS = re.compile(rb"[^\n]{%d}" % (MAX_JSON_DEPTH + 1))


def _stage_jsonl_fast(conn: psycopg.Connection, path: Path, contract: Contract) -> bool:
    """COPY each line of a JSON Lines file into `_incoming` parsed (`_doc`); a line jsonb refused has no document.

    Parsing as the lines are copied is how a plain COPY into a jsonb column loads them; staging the text and
    parsing it in the publish step wrote every line twice (500,000 Stripe charges: 0.8 s to stage, 3.2 s to
    insert, against 2.1 and 1.5 s this way). A refused line (not JSON, or JSON that jsonb refuses, such as a
    \\u0000 escape) is staged as a record without a document, which the rules reject as not a valid JSON object,
    as the exact path does. Blank lines are staged too (their line numbers count) and dropped when the rejected
    rows are written.
    A file with a quote or delimiter byte, a NUL byte, bad encoding, a bare CR, or a line of more than
    MAX_JSON_DEPTH opening brackets (possibly nested too deep for PostgreSQL's parser) goes to the exact path.
    """
    if contract.format != "jsonl":
        return False
    with open(path, "rb") as handle:
        offset = 3 if handle.read(3) == b"\xef\xbb\xbf" else 0
    carry = b""

    def needs_exact(chunk: bytes) -> bool:
        nonlocal carry
        if b"\x01" in chunk or b"\x02" in chunk:
            return True
        openings = carry + chunk.translate(None, _NOT_OPENING)  # per line, its opening brackets
        carry = openings[openings.rfind(b"\n") + 1 :]
        return _MANY_OPENINGS.search(openings) is not None

    try:
        with conn.transaction():
            _create_incoming(conn, contract, first_line=1)
            with skipped_lines(conn) as refused:
                physical = _copy_lines(conn, sql.SQL(_JSONL_COPY), path, offset, needs_exact, refused)
            _check_numbered_by_line(conn, physical, refused)
            # a line jsonb refused is a record without a document; its text is read when it is rejected
            conn.execute("insert into _incoming (_line) select unnest(%s::bigint[])", [refused])
    except (psycopg.DataError, psycopg.errors.BadCopyFileFormat, _NeedsExactPath):
        return False
    return True


def _check_numbered_by_line(conn: psycopg.Connection, physical: int, refused: list[int]) -> None:
    """Raise `_NeedsExactPath` unless each staged line's number is its line in the file: the identity must count
    the lines COPY skipped too (PostgreSQL 18's does). Had it not, the last staged line's number would fall short
    of its line by the refused lines before it."""
    if not refused:
        return
    last, left_out = physical, set(refused)
    while last in left_out:
        last -= 1
    if conn.execute("select coalesce(max(_line), 0) from _incoming").fetchone()[0] != last:
        raise _NeedsExactPath


def _stage_exact(conn: psycopg.Connection, path: Path, contract: Contract) -> None:
    """Read the file in Python, record by record, keeping each one's original text and shape problems."""
    width = len(contract.columns) if contract.format == "csv" else 0
    _create_incoming(conn, contract)
    with conn.cursor().copy(
        "copy _incoming (_line, _raw, _problem{}) from stdin".format("".join(f", c{i}" for i in range(width)))
    ) as copy:
        for record in READERS[contract.format](path, contract):
            values = [value or None for value in record.values] if record.values else [None] * width  # "" is null
            copy.write_row((record.line, record.raw, record.problem, *values))


def _stage(conn: psycopg.Connection, path: Path, contract: Contract) -> None:
    fast = _stage_csv_fast if contract.format == "csv" else _stage_jsonl_fast
    if not fast(conn, path, contract):
        _stage_exact(conn, path, contract)


def _records(contract: Contract, staged: sql.Composable, strict_json: bool) -> sql.Composable:
    """Staged records with their values v0..vn, each computed once per record.

    Each step is a subquery with `offset 0`, which PostgreSQL evaluates once per row instead of inlining its
    expressions into every check that reads them. For JSON, a first step parses each line staged as text once
    (`_doc`, which the JSON Lines fast path staged parsed) and a second takes each column's text from it
    (t0..tn). `strict_json` judges the text as jsonb rather than as json: three times slower, and needed only
    for the rare text that is valid json but not valid jsonb (a \\u0000 escape).
    """
    texts = [_text_expr(contract, i, c) for i, c in enumerate(contract.columns)]
    if contract.is_json:
        staged = sql.SQL(
            "(select _line, _raw, _problem, coalesce(_doc, case when _problem is null then"
            " case when pg_input_is_valid(_raw, {}) then _raw::jsonb end end) as _doc from {} offset 0) as parsed"
        ).format(sql.Literal("jsonb" if strict_json else "json"), staged)
        staged = sql.SQL("(select *, {} from {} offset 0) as extracted").format(
            sql.SQL(", ").join(sql.SQL("{} as {}").format(t, sql.Identifier(f"t{i}")) for i, t in enumerate(texts)),
            staged,
        )
        texts = [sql.Identifier(f"t{i}") for i in range(len(texts))]
    values = sql.SQL(", ").join(
        sql.SQL("{} as {}").format(_value_expr(t, may_be_empty=contract.is_json), _value(i))
        for i, t in enumerate(texts)
    )
    return sql.SQL("(select *, {} from {} offset 0) as valued").format(values, staged)


def _insert_sql(contract: Contract, batch_id: int, strict_json: bool = False) -> sql.Composable:
    """The good records, typed, into raw; each record that is not good leaves its line in `_rejected_lines`.

    Every record is checked once, by boolean tests. A record that fails them calls `_reject_line` (a CASE,
    whose branches PostgreSQL evaluates in order, so a good record never calls it), which is how the few
    rejected lines are known without a second pass: the insert's `returning` of every loaded line and an
    anti-join against them cost as much as the checks and casts together.
    """
    return sql.SQL(
        "insert into {table} (_batch_id, _source_line, {columns})"
        " select {batch}, _line, {typed} from {records}"
        " where case when {good} then true else pg_temp._reject_line(_line) end"
    ).format(
        table=sql.Identifier(RAW, contract.table),
        batch=sql.Literal(batch_id),  # a literal, not a parameter: the LIKE patterns hold a `%`
        columns=sql.SQL(", ").join(sql.Identifier(c.name) for c in contract.columns),
        typed=sql.SQL(", ").join(
            sql.SQL("{}::{}").format(_value(i), sql.SQL(c.type)) for i, c in enumerate(contract.columns)
        ),
        records=_records(contract, sql.SQL("_incoming"), strict_json),
        good=_good_expr(contract),
    )


def _rejected_sql(contract: Contract, strict_json: bool = False) -> sql.Composable:
    """The records the insert left out, each with every problem it has, in one line; reads the same values."""
    rejected = sql.SQL("_incoming where _line in (select _line from pg_temp._rejected_lines)")
    return sql.SQL("select _line, _raw, {reason} from {records}").format(
        reason=_reason_expr(contract), records=_records(contract, rejected, strict_json)
    )


# Created in the file's transaction; the table goes with it, the function is the session's.
_REJECTED_LINES = """
create temp table _rejected_lines (_line bigint not null) on commit drop;
create or replace function pg_temp._reject_line(line bigint) returns boolean language plpgsql volatile as $$
begin
    insert into pg_temp._rejected_lines values (line);
    return false;
end $$;
"""


def _publish_batch(conn: psycopg.Connection, batch_id: int, path: Path, contract: Contract) -> tuple[int, int]:
    """Good records typed into raw, the rest to raw.rejected_rows with the reason; returns (loaded, rejected)."""
    # Room for the rejected lines' hash when most of a large file is rejected.
    conn.execute("set local work_mem = '128MB'")
    conn.execute(_REJECTED_LINES)
    strict_json = False
    try:
        with conn.transaction():
            loaded = conn.execute(_insert_sql(contract, batch_id)).rowcount
    except psycopg.DataError:
        if not contract.is_json:
            raise
        # Valid json that jsonb refuses (a \u0000 escape) stopped the cast: judge every line as jsonb instead.
        strict_json = True
        loaded = conn.execute(_insert_sql(contract, batch_id, strict_json=True)).rowcount
    rows = conn.execute(_rejected_sql(contract, strict_json)).fetchall()
    missing_text = {line for line, raw, _ in rows if raw is None}
    texts = _lines_of(path, missing_text) if missing_text else {}
    rows = [(line, raw if raw is not None else texts[line], reason) for line, raw, reason in rows]
    if contract.is_json:  # blank lines, staged by the JSON Lines fast path to keep line numbers, are no records
        rows = [row for row in rows if row[1].strip()]
    with conn.cursor().copy(
        "copy raw.rejected_rows (batch_id, source, entity, file_name, line_number, raw_text, reason) from stdin"
    ) as copy:
        for line, raw, reason in sorted(rows):
            copy.write_row(
                (
                    batch_id,
                    contract.source,
                    contract.entity,
                    path.name,
                    line,
                    raw,
                    reason,
                )
            )
    return loaded, len(rows)


def _lines_of(path: Path, wanted: set[int]) -> dict[int, str]:
    """The original text of the given physical lines (records the fast path rejected), without a byte-order mark.

    Line ends are found a block at a time with numpy, and only the wanted lines are cut out and decoded: a file's
    rejected lines may be spread over all of it, and splitting every block that held one into lines was Python's
    work per line of the file.
    """
    found: dict[int, str] = {}
    pending = sorted(wanted)
    first = 1  # the number of the block's first line
    for whole in blocks(path, 0):
        if not pending:
            break
        ends = line_ends(whole)
        here = pending[: bisect_left(pending, first + len(ends))]
        if here:
            ends = ends.tolist()
            for number in here:
                start = ends[number - first - 1] + 1 if number > first else 0
                line = whole[start : ends[number - first]]
                if number == 1:
                    line = line.removeprefix(b"\xef\xbb\xbf")
                found[number] = line.decode("utf-8", errors="replace").rstrip("\r\n")
            del pending[: len(here)]
        first += len(ends)
    return found


def is_empty(path: Path) -> bool:
    """A file of zero bytes, or of nothing but a byte-order mark and blank lines: an export with no records."""
    if path.stat().st_size > 4096:
        return False
    return not path.read_bytes().removeprefix(b"\xef\xbb\xbf").strip()


INTERRUPTED = (
    "the load stopped before it finished (the loader was killed, or it lost the warehouse); nothing of it was"
    " kept: load the file again"
)


class WarehouseLost(LoadError):
    """The connection to the warehouse broke mid-load: no later file can load either."""


def load_file(
    conn: psycopg.Connection, path: Path, contract: Contract, queued_batch_id: int | None = None
) -> BatchResult:
    """Load one file in one transaction. `conn` must not be inside a transaction.

    The batch's ledger line is committed as `loading` before the load starts (or was, queued by load_paths:
    `queued_batch_id`) and the load holds a lock on it: if the process or the server dies, the line stays behind
    and the next load marks it `failed`.
    """
    path = path.resolve()
    started = datetime.now(UTC)
    ensure_current(conn)  # the ledger at its newest revision (tealeaves.db.migrate)
    with conn.transaction():  # DDL first, in a short transaction of its own, so loads run in parallel
        lock_raw_ddl(conn)
        ensure_table(conn, contract)
    stat = file_stat(path)  # before the file is read: a write while it is read changes it for the next load
    try:
        digest = file_hash(path)
    except OSError as exc:  # gone, unreadable, a folder under an export's name: no content to identify
        batch_id = _ledger_line(conn, path, contract, "", None, started, queued_batch_id)
        error = LoadError(f"{path}: cannot be read ({exc.strerror or exc})")
        _record_failure(conn, batch_id, str(error))
        raise error from None
    if _already_loaded(conn, contract, digest, path, stat):
        if queued_batch_id is not None:
            conn.execute("delete from raw.load_batches where batch_id = %s", [queued_batch_id])
        return BatchResult(contract.source, contract.entity, path, "unchanged", None, 0, 0, 0)
    batch_id = _ledger_line(conn, path, contract, digest, stat, started, queued_batch_id)
    try:
        with conn.transaction():
            conn.execute("select from raw.load_batches where batch_id = %s for update", [batch_id])
            # A time without an offset is a UTC instant, on any server and under any database's default zone
            # (docs/sources.md): PostgreSQL reads such text in the session's zone.
            conn.execute("set local time zone 'UTC'")
            # One loader per raw table at a time; a second one waits, then sees the first one's batch.
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", [contract.table])
            if _already_loaded(conn, contract, digest, path, stat):
                conn.execute("delete from raw.load_batches where batch_id = %s", [batch_id])
                return BatchResult(contract.source, contract.entity, path, "unchanged", None, 0, 0, 0)
            if is_empty(path):  # nothing happened in the source today: a zero-row batch, recorded as such
                loaded, rejected = 0, 0
            else:
                written = _copy_csv_typed(conn, path, contract, batch_id)
                if written is None:
                    _stage(conn, path, contract)
                loaded, rejected = _publish_batch(conn, batch_id, path, contract)
                loaded += written or 0
            conn.execute(
                "update raw.load_batches set status = 'loaded', error = null, rows_in = %s, rows_loaded = %s,"
                " rows_rejected = %s, finished_at = clock_timestamp() where batch_id = %s",
                [loaded + rejected, loaded, rejected, batch_id],
            )
            refresh_statistics(conn, contract, loaded)  # for the raw gate's and the build's plans
            summarize_block_range_indexes(conn, contract)
    except UnicodeDecodeError as exc:
        error = LoadError(f"{path}: not valid UTF-8 at byte {exc.start} ({exc.reason}); re-export the file as UTF-8")
        _record_failure(conn, batch_id, str(error))
        raise error from None
    except LoadError as exc:
        _record_failure(conn, batch_id, str(exc))
        raise
    except OSError as exc:  # removed or cut short while it was read
        error = LoadError(f"{path}: could not be read to the end ({exc.strerror or exc})")
        _record_failure(conn, batch_id, str(error))
        raise error from None
    except psycopg.OperationalError as exc:
        reason = (exc.diag.message_primary or str(exc)).splitlines()[0] if str(exc) else type(exc).__name__
        raise WarehouseLost(f"{path}: lost the warehouse while loading ({reason}); {INTERRUPTED}") from None
    return BatchResult(contract.source, contract.entity, path, "loaded", batch_id, loaded + rejected, loaded, rejected)


def _ledger_line(
    conn: psycopg.Connection,
    path: Path,
    contract: Contract,
    digest: str,
    stat: str | None,
    started: datetime,
    queued: int | None,
) -> int:
    """The batch's `loading` line, committed before any work so that a load that dies leaves it behind; a line
    load_paths queued gets the file's content hash, stat and start."""
    if queued is not None:
        conn.execute(
            "update raw.load_batches set content_hash = %s, file_stat = %s, started_at = %s where batch_id = %s",
            [digest, stat, started, queued],
        )
        return queued
    return conn.execute(
        "insert into raw.load_batches"
        " (source, entity, file_name, file_path, content_hash, file_stat, started_at, status)"
        " values (%s, %s, %s, %s, %s, %s, %s, 'loading') returning batch_id",
        [contract.source, contract.entity, path.name, str(path), digest, stat, started],
    ).fetchone()[0]


# The advisory locks (this class id, the batch id) that keep a queued ledger line `loading` while its load lives.
QUEUED = 0x7EA1


def _queue_lock(function: str, batch_id: str) -> str:
    """SQL calling the advisory-lock `function` on the queue lock of the line whose id is the SQL `batch_id`: one
    spelling of the key for the load that holds it and the one that tries it (a query with parameters)."""
    return f"{function}({QUEUED}, ({batch_id} %% 2147483647)::integer)"


def _queue(conn: psycopg.Connection, plan: list[tuple[Path, Contract]]) -> list[int]:
    """A `loading` ledger line for every file of the plan, committed in the plan's order, so that batch ids follow
    the order given, whichever worker starts a file first: staging keeps the newest batch's copy of a record,
    across raw tables too (a Stripe line item both flat and nested in its invoice). Each line is held by an
    advisory lock of this session until the load ends, so that another load does not take it for a dead one."""
    started = datetime.now(UTC)
    queued = []
    with conn.transaction():
        for path, contract in plan:
            batch_id = _ledger_line(conn, path.resolve(), contract, "", None, started, None)
            conn.execute(f"select {_queue_lock('pg_advisory_lock', '%s')}", [batch_id])
            queued.append(batch_id)
    return queued


def _already_loaded(conn: psycopg.Connection, contract: Contract, digest: str, path: Path, stat: str | None) -> bool:
    """Whether a loaded batch holds this content. When it came from this very file, touched since (its stat
    differs), the line takes the stat now, so that the next load need not read the file again."""
    found = conn.execute(
        "select batch_id, file_path = %s and file_stat is distinct from %s from raw.load_batches"
        " where source = %s and entity = %s and content_hash = %s and status = 'loaded'",
        [str(path), stat, contract.source, contract.entity, digest],
    ).fetchone()
    if found is not None and found[1] and stat is not None:
        conn.execute("update raw.load_batches set file_stat = %s where batch_id = %s", [stat, found[0]])
    return found is not None


def _record_failure(conn: psycopg.Connection, batch_id: int, error: str) -> None:
    """The failed attempt is rolled back whole; only its ledger line remains, saying why."""
    conn.execute(
        "update raw.load_batches set status = 'failed', error = %s, finished_at = clock_timestamp()"
        " where batch_id = %s",
        [error, batch_id],
    )


# Ledger lines still `loading` whose row no live load has locked become `failed` with the error given first; the
# `{}` narrows which lines (SQL, may be empty).
FAIL_UNLOCKED_LOADING = (
    "update raw.load_batches set status = 'failed', error = %s, finished_at = clock_timestamp()"
    " where batch_id in (select batch_id from raw.load_batches where status = 'loading'{} for update skip locked)"
)


def mark_interrupted(conn: psycopg.Connection) -> int:
    """Ledger lines of loads that died (`loading`, and no live load holds their row or queue lock) become `failed`."""
    return conn.execute(
        FAIL_UNLOCKED_LOADING.format("") + f" and {_queue_lock('pg_try_advisory_xact_lock', 'batch_id')}",
        [INTERRUPTED],
    ).rowcount


def expand_paths(paths: Iterable[Path], source: str | None, allow_empty: bool = False) -> list[tuple[Path, Contract]]:
    """Files to load with their contracts, in a stable order.

    A folder means every file in it that has a contract, and also every such file in its `<source>/`
    sub-folders (`billing/`, `crm/`, ...), so a whole export folder loads in one call. A folder with no
    export file is an error for someone who named it by hand, and empty input when `allow_empty`.
    """
    plan: list[tuple[Path, Contract]] = []
    for path in paths:
        if not path.exists():
            if allow_empty:
                continue
            raise LoadError(f"{path}: no such file or folder")
        if path.is_dir():
            wanted = sources.for_source(source) if source else list(sources.contracts().values())
            matched = [
                (f, c)
                for c in wanted
                for folder in (path, path / c.source)
                for f in sorted(folder.glob(c.file))
                if f.is_file()
            ]
            if not matched and not allow_empty:
                expected = sorted({f"{c.source}/{c.file}" for c in wanted})
                raise LoadError(f"{path}: no export files here or in its source folders; expected any of {expected}")
            plan.extend(matched)
        else:
            try:
                plan.append((path, sources.for_file(path, source)))
            except KeyError as exc:
                raise LoadError(exc.args[0]) from None
    return plan


def load_paths(
    dsn: str,
    paths: Iterable[Path],
    source: str | None = None,
    *,
    strict: bool = True,
    allow_empty: bool = False,
    workers: int | None = None,
) -> list[BatchResult]:
    """The one load path for the CLI and the DAG.

    Every file is tried: one that cannot be loaded (not UTF-8, a header that fits no contract, ...) is
    rolled back whole, recorded as a `failed` ledger line with its reason, and the files after it still load.
    With `strict`, a LoadError naming every failed file is raised once all are done; otherwise the failures come
    back as results with status `failed` (the DAG's load tasks, where the raw gate then holds the run back).

    A load is PostgreSQL's work (COPY, the contract's checks, the insert), one backend per connection, so
    `workers` raw tables load at once, each on a connection of its own (default TEALEAVES_LOAD_WORKERS). The
    files of one raw table load one after the other in the order given: a later file's rows supersede an earlier
    one's (macros/dedupe_latest.sql reads the batch order). Every file's ledger line is queued first, in the order
    given, so batch ids follow that order across tables too, whichever worker finishes first. Results come back
    in the order given.
    """
    if source is not None and source not in sources.sources():
        raise LoadError(f"unknown source {source!r}; known sources: {', '.join(sources.sources())}")
    plan = expand_paths(paths, source, allow_empty=allow_empty)
    width = workers or get_settings().load_workers
    done: list[BatchResult | None] = [None] * len(plan)
    with psycopg.connect(dsn, autocommit=True) as ledger:  # holds the queued lines until their files are done
        ensure_raw_schema(ledger)
        mark_interrupted(ledger)
        for index in _unchanged_by_stat(ledger, plan):
            path, contract = plan[index]
            done[index] = BatchResult(contract.source, contract.entity, path.resolve(), "unchanged", None, 0, 0, 0)
        to_load = [index for index, result in enumerate(done) if result is None]
        for first in range(0, len(to_load), QUEUE_LENGTH):
            indices = to_load[first : first + QUEUE_LENGTH]
            loaded = _load_queued(dsn, ledger, [plan[index] for index in indices], width)
            for index, result in zip(indices, loaded, strict=True):
                done[index] = result
            ledger.execute("select pg_advisory_unlock_all()")
    failed = [r.error for r in done if r is not None and r.status == "failed"]
    if strict and failed:
        raise LoadError("; ".join(e or "" for e in failed))
    return [r for r in done if r is not None]


def _unchanged_by_stat(ledger: psycopg.Connection, plan: list[tuple[Path, Contract]]) -> list[int]:
    """The plan's files a loaded batch came from whose stat is still the one it recorded (file_stat): unchanged,
    found without reading them. Every other file is hashed as it loads (load_file)."""
    resolved = [path.resolve() for path, _ in plan]
    stats = [(str(path), file_stat(path)) for path in resolved]
    recorded = ledger.execute(
        "select file_path, file_stat, source, entity from raw.load_batches"
        " where status = 'loaded' and file_stat is not null and file_path = any(%s)",
        [[path for path, stat in stats if stat is not None]],
    ).fetchall()
    known = set(recorded)
    return [
        index
        for index, ((path, stat), (_, contract)) in enumerate(zip(stats, plan, strict=True))
        if stat is not None and (path, stat, contract.source, contract.entity) in known
    ]


# Files queued at once: each queued line holds an entry of PostgreSQL's shared lock table (max_locks_per_transaction
# times max_connections, 6,400 by default) until its file is done; a longer plan loads in queues of this many.
QUEUE_LENGTH = 500


def _load_queued(
    dsn: str, ledger: psycopg.Connection, plan: list[tuple[Path, Contract]], width: int
) -> list[BatchResult]:
    """Queue the plan's ledger lines, then load its raw tables `width` at once; the results in the plan's order."""
    results: list[BatchResult | None] = [None] * len(plan)
    stop = threading.Event()  # the warehouse went away, or the load was interrupted: no worker starts a file

    def load_table(files: list[int]) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for index in files:
                if stop.is_set():
                    return
                path, contract = plan[index]
                try:
                    results[index] = load_file(conn, path, contract, queued[index])
                except WarehouseLost:
                    stop.set()
                    raise
                except LoadError as exc:
                    results[index] = BatchResult(
                        contract.source, contract.entity, path, "failed", None, 0, 0, 0, str(exc)
                    )

    queued = _queue(ledger, plan)
    tables = _by_table(plan)
    try:
        with ThreadPoolExecutor(min(width, len(tables)) or 1, thread_name_prefix="tealeaves-load") as pool:
            jobs = [pool.submit(load_table, files) for files in tables]
            try:
                wait(jobs)
            except BaseException:  # Ctrl-C, or the task killed: the files being loaded finish or roll back
                stop.set()
                raise
    finally:
        _unqueue(ledger, queued, results)
    for job in jobs:
        if job.exception() is not None:
            raise job.exception()
    return [r for r in results if r is not None]


def _unqueue(ledger: psycopg.Connection, queued: list[int], results: list[BatchResult | None]) -> None:
    """Queued lines still `loading` once the workers are done fail: with the file's own error when it failed before
    its load began, as interrupted when no worker started it (the load stopped first). If the warehouse no longer
    answers, the next load marks them."""
    reasons = [
        (INTERRUPTED if result is None else result.error or INTERRUPTED, batch_id)
        for batch_id, result in zip(queued, results, strict=True)
        if result is None or result.status == "failed"
    ]
    with contextlib.suppress(psycopg.Error), ledger.cursor() as cursor:
        cursor.executemany(FAIL_UNLOCKED_LOADING.format(" and batch_id = %s"), reasons)


def _by_table(plan: list[tuple[Path, Contract]]) -> list[list[int]]:
    """The plan's indices per raw table, each table's in the plan's order, the most bytes first.

    The largest tables start first so that two workers end close together (a table's files cannot be split).
    """
    tables: dict[str, list[int]] = {}
    for index, (_, contract) in enumerate(plan):
        tables.setdefault(contract.table, []).append(index)
    return sorted(tables.values(), key=lambda files: -sum(_size(plan[i][0]) for i in files))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # load_file names the problem
        return 0
