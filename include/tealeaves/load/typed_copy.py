"""The CSV fast path's two COPYs: one finds the doubtful lines, the other writes every other line typed into raw.

Staging every field as text and then checking and casting it in an `INSERT` writes each row twice and runs
every rule on every value: the loader reached 0.26x a plain COPY that way. Here PostgreSQL's typed COPY
writes the rows into raw once, as a plain COPY does, and the text rules run only where a typed COPY could
decide differently from them:

1. A first COPY parses the file as text into `_incoming` but keeps only the *doubtful* lines (`doubtful`):
   a required value missing, a text value with a leading or trailing space (the text rules trim it), or a
   number or date that does not start with a digit or sign (PostgreSQL's types also accept 'yesterday',
   'NaN', 'January 8', which the contract refuses). Every other value is one the typed COPY reads exactly
   as the text rules would: bigint, integer, boolean and jsonb input skip surrounding spaces themselves.
2. A second COPY writes every other line into raw with its batch and line number in front
   (`numbered_lines`), and `on_error ignore` skips a line whose value its type refuses, saying which in a
   notice (`copy_into_raw`).

The lines the two leave out are judged by the text rules (the loader's `_insert_sql`), so what is loaded and
what is rejected, and why, is what the text path decides. Both COPYs count their records, so a file where a
record is not exactly one physical line takes the exact path instead.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from tealeaves.load.ddl import RAW
from tealeaves.sources import Contract

# PostgreSQL also accepts words for some types ('now', 'yesterday', 'epoch' for dates, 'NaN' and 'Infinity'
# for numbers); an export that says 'yesterday' is broken, so such values must start with a digit or sign.
DIGIT_FIRST = {"numeric", "date", "timestamptz"}
# Types whose typed COPY reads a value as the text rules do: the same input function, which skips the
# surrounding spaces the rules trim. A contract with any other type keeps the text path.
TYPED_COPY_TYPES = DIGIT_FIRST | {"text", "bigint", "integer", "boolean", "jsonb"}

_SKIPPED = re.compile(r"^skipping row due to data type incompatibility at line (\d+) ")


class NotOneLinePerRecord(Exception):
    """COPY did not read each physical line as one record (or said so in words this module cannot read)."""


def takes_typed_copy(contract: Contract) -> bool:
    return contract.format == "csv" and all(c.type in TYPED_COPY_TYPES for c in contract.columns)


def _starts_with_digit(value: sql.Composable) -> sql.Composable:
    """The text rules' test of a number's or date's first characters: a digit, or a sign or point then a digit.

    Spelt with `or`, not `in (...)`: PostgreSQL 18 does not resolve the operator of an `in` list (nor of a
    negated comparison) in a COPY's WHERE clause ("cache lookup failed for function 0").
    """
    return sql.SQL(
        "(ascii({v}) between 48 and 57 or (ascii({v}) = 43 or ascii({v}) = 45 or ascii({v}) = 46)"
        " and ascii(substr({v}, 2)) between 48 and 57)"
    ).format(v=value)


def doubtful(contract: Contract, in_file: set[int]) -> sql.Composable:
    """True for a staged line the typed COPY could judge differently from the text rules; `in_file` are the
    contract columns the file has (the others are null on both paths)."""
    sure: list[sql.Composable] = []
    for index, column in enumerate(contract.columns):
        value = sql.Identifier(f"c{index}")
        if column.required:
            sure.append(sql.SQL("{} is not null").format(value))
        if index not in in_file:
            continue
        if column.type == "text":
            sure.append(sql.SQL("({v} is null or {v} not like ' %' and {v} not like '% ')").format(v=value))
        elif column.type in DIGIT_FIRST:  # a leading space fails the digit test, so only the end is looked at
            sure.append(
                sql.SQL("({v} is null or {v} not like '% ' and {first})").format(
                    v=value, first=_starts_with_digit(value)
                )
            )
    # `is not true` rather than `not (...)`: see _starts_with_digit
    return sql.SQL("({}) is not true").format(sql.SQL(" and ").join(sure) if sure else sql.SQL("true"))


def numbered_lines(
    path: Path, offset: int, first_line: int, batch_id: int, leave_out: set[int]
) -> Iterator[tuple[bytes, int]]:
    """The file's lines from `offset`, each with `batch_id,line_number,` in front, but for the lines in
    `leave_out`; yields (chunk, lines in it). The two fields in front change nothing in how COPY's CSV
    parser reads the fields after them."""
    number = first_line
    rest = b""
    with open(path, "rb") as handle:
        handle.seek(offset)
        while chunk := handle.read(1 << 20):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            kept = [b"%d,%d,%s\n" % (batch_id, n, line) for n, line in enumerate(lines, number) if n not in leave_out]
            number += len(lines)
            yield b"".join(kept), len(kept)
    if rest and number not in leave_out:
        yield b"%d,%d,%s" % (batch_id, number, rest), 1


def copy_into_raw(
    conn: psycopg.Connection,
    path: Path,
    contract: Contract,
    columns: list[int],
    offset: int,
    first_line: int,
    batch_id: int,
    leave_out: set[int],
) -> tuple[int, list[int]]:
    """COPY every line but `leave_out` typed into raw; returns (rows written, line numbers of the lines skipped
    because a value did not fit its type). `columns` is the contract column of each field of the file."""
    names = sql.SQL(", ").join(sql.Identifier(contract.columns[i].name) for i in columns)
    copy = sql.SQL(
        "copy {table} (_batch_id, _source_line, {names}) from stdin"
        " with (format csv, force_null ({names}), on_error ignore, log_verbosity verbose)"
    ).format(table=sql.Identifier(RAW, contract.table), names=names)
    notices: list[str] = []

    def hear(notice: psycopg.errors.Diagnostic) -> None:
        notices.append(notice.message_primary or "")

    sent = 0
    cursor = conn.cursor()
    conn.add_notice_handler(hear)
    try:
        with cursor.copy(copy) as into:
            for chunk, count in numbered_lines(path, offset, first_line, batch_id, leave_out):
                into.write(chunk)
                sent += count
    finally:
        conn.remove_notice_handler(hear)
    copied = [int(m.group(1)) for m in map(_SKIPPED.match, notices) if m]
    if cursor.rowcount + len(copied) != sent:
        raise NotOneLinePerRecord
    kept_before = sorted(leave_out)
    return cursor.rowcount, [_file_line(n, first_line, kept_before) for n in copied]


def _file_line(copied: int, first_line: int, left_out: list[int]) -> int:
    """The file's line number of the COPY's `copied`-th line, the lines in `left_out` (sorted) not sent."""
    line = first_line + copied - 1
    while True:
        shifted = first_line + copied - 1 + bisect_right(left_out, line)
        if shifted == line:
            return line
        line = shifted
