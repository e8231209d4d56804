"""The CSV fast path: every sure line COPY'd typed straight into raw, only the doubtful ones judged as text.

Staging every field as text and then checking and casting it in an `INSERT` wrote each row twice and ran
every rule on every value: the loader reached 0.26x a plain COPY that way. Here PostgreSQL's typed COPY writes
the rows into raw once, as a plain COPY does, and the text rules run only where a typed COPY could decide
differently from them:

1. `csv_screen` names, from the bytes, the *doubtful* lines: a required value missing, a value with a space
   at either end (the text rules trim it), a number or date that does not start with a digit or sign
   (PostgreSQL's types also accept 'yesterday', 'NaN', 'January 8', which the contract refuses), and every
   line with a quote character. Every other value is one the typed COPY reads exactly as the text rules
   would: bigint, integer, boolean and jsonb input skip surrounding spaces themselves.
2. A typed COPY writes every other line into raw with its batch and line number in front, and
   `on_error ignore` (PostgreSQL 18) skips a line whose value its type refuses, naming its line in a notice.

The doubtful and the skipped lines are staged as text (`stage_lines`) and judged by the loader's text rules
(`_insert_sql`), so what is loaded and what is rejected, and why, is what the text path decides. The screen and
both COPYs check that every line is one record, so a file where a record spans lines takes the other paths.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from tealeaves.load.csv_screen import DIGIT_FIRST, NotOneLinePerRecord, Screen, blocks, line_ends, lines_of_block
from tealeaves.load.ddl import RAW
from tealeaves.load.readers import CsvLayout
from tealeaves.sources import Contract

# Types whose typed COPY reads a value as the text rules do: the same input function, which skips the
# surrounding spaces the rules trim. A contract with any other type keeps the text path.
TYPED_COPY_TYPES = DIGIT_FIRST | {"text", "bigint", "integer", "boolean", "jsonb"}


class MostlyDoubtful(Exception):
    """Most lines so far are doubtful (a file that quotes every field, say): the text path takes such a file
    faster, without screening it first and staging each doubtful line with its text (500,000 quoted companies:
    2.2-2.6 s against 1.7-1.9 s)."""


_ENOUGH_TO_JUDGE = 10_000  # lines; a small file's path costs little either way


_SKIPPED = re.compile(r"^skipping row due to data type incompatibility at line (\d+) ")


def takes_typed_copy(contract: Contract, layout: CsvLayout) -> bool:
    """A CSV file of types the typed COPY reads as the text rules do, whose header lines end in LF. (A file of
    one column is left out too: its blank lines and a lone `\\.` line are records to COPY, none to Python.)"""
    return (
        contract.format == "csv"
        and all(c.type in TYPED_COPY_TYPES for c in contract.columns)
        and layout.lf_lines
        and len(layout.columns) > 1
    )


def copy_into_raw(
    conn: psycopg.Connection, path: Path, contract: Contract, layout: CsvLayout, batch_id: int
) -> tuple[int, list[int]]:
    """COPY every sure line typed into raw; returns (rows written, the line numbers of the lines left to the text
    rules: the doubtful ones and those whose value did not fit its type), in order."""
    names = sql.SQL(", ").join(sql.Identifier(contract.columns[i].name) for i in layout.columns)
    copy = sql.SQL(
        "copy {table} (_batch_id, _source_line, {names}) from stdin"
        " with (format csv, force_null ({names}), on_error ignore, log_verbosity verbose)"
    ).format(table=sql.Identifier(RAW, contract.table), names=names)
    doubtful: list[int] = []
    sent = 0
    cursor = conn.cursor()
    with skipped_lines(conn) as copied, cursor.copy(copy) as into:
        for chunk, count in _sure_lines(path, contract, layout, b"%d," % batch_id, doubtful):
            into.write(chunk)
            sent += count
    if cursor.rowcount + len(copied) != sent:
        raise NotOneLinePerRecord
    skipped = [_file_line(n, layout.first_line, doubtful) for n in copied]
    return cursor.rowcount, sorted(doubtful + skipped)


@contextmanager
def skipped_lines(conn: psycopg.Connection) -> Iterator[list[int]]:
    """The input line numbers that a COPY run inside skipped (`on_error ignore, log_verbosity verbose`), read from
    its notices as they come: complete once the COPY has ended. Inside a transaction (the notice level is set
    for it)."""
    skipped: list[int] = []

    def hear(notice: psycopg.errors.Diagnostic) -> None:
        if found := _SKIPPED.match(notice.message_primary or ""):
            skipped.append(int(found.group(1)))

    conn.execute("set local client_min_messages = notice")  # the skipped lines' notices must reach us
    conn.add_notice_handler(hear)
    try:
        yield skipped
    finally:
        conn.remove_notice_handler(hear)


def _sure_lines(
    path: Path, contract: Contract, layout: CsvLayout, front: bytes, doubtful: list[int]
) -> Iterator[tuple[bytes, int]]:
    """The file's sure lines, each with `front` and its line number in front as CSV fields; yields (chunk, lines
    in it) and adds the doubtful lines' numbers to `doubtful`. The fields in front change nothing in how COPY's
    CSV parser reads the fields after them."""
    screen = Screen(contract, layout.columns)
    number = layout.first_line
    for block in blocks(path, layout.data_offset):
        lines = lines_of_block(block)
        found = screen.doubtful(block).tolist()
        doubtful.extend(number + i for i in found)
        seen = number + len(lines) - layout.first_line
        if seen >= _ENOUGH_TO_JUDGE and 2 * len(doubtful) > seen:
            raise MostlyDoubtful
        if found:
            leave = set(found)
            sent = [b"%s%d,%s\n" % (front, n, line) for n, line in enumerate(lines, number) if n - number not in leave]
        else:
            sent = [b"%s%d,%s\n" % (front, n, line) for n, line in enumerate(lines, number)]
        number += len(lines)
        yield b"".join(sent), len(sent)


def _file_line(copied: int, first_line: int, left_out: list[int]) -> int:
    """The file's line number of the COPY's `copied`-th line, the lines in `left_out` (sorted) not sent."""
    line = first_line + copied - 1
    while True:
        shifted = first_line + copied - 1 + bisect_right(left_out, line)
        if shifted == line:
            return line
        line = shifted


def stage_lines(conn: psycopg.Connection, path: Path, layout: CsvLayout, lines: list[int]) -> None:
    """Stage the given lines (sorted) in `_incoming` as the text fast path does, read by COPY's CSV parser, each
    with its original text (`_raw`, for the rejected ones)."""
    if not lines:
        return
    target = sql.SQL(", ").join(sql.Identifier(f"c{i}") for i in layout.columns)
    copy = sql.SQL("copy _incoming (_line, _raw, {t}) from stdin with (format csv, force_null ({t}))").format(t=target)
    cursor = conn.cursor()
    number = layout.first_line
    with cursor.copy(copy) as into:
        for block in blocks(path, layout.data_offset):
            ends = line_ends(block).tolist()
            here = lines[bisect_left(lines, number) : bisect_left(lines, number + len(ends))]
            if here:
                starts = [ends[n - number - 1] + 1 if n > number else 0 for n in here]
                into.write(b"".join(_staged(n, block[s : ends[n - number]]) for n, s in zip(here, starts, strict=True)))
            number += len(ends)
    if cursor.rowcount != len(lines):
        raise NotOneLinePerRecord


def _staged(number: int, line: bytes) -> bytes:
    """The line with its number and its text, quoted (as `_lines_of` gives it: without the CR of a CRLF), in front."""
    raw = line.rstrip(b"\r").replace(b'"', b'""')
    return b'%d,"%s",%s\n' % (number, raw, line)
