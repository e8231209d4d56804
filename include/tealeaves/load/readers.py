"""Read an export file into records: (line number, original text, values or None, shape problem or None).

Only the shape is checked here (header, field count, JSON lines are passed through as text); types are
checked set-wise in PostgreSQL, which is faster and is the same parser that will store the value.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from tealeaves.sources import Contract

FIELD_LIMIT = 16 << 20
csv.field_size_limit(FIELD_LIMIT)
MAX_JSON_DEPTH = 256  # real exports nest a few levels; PostgreSQL's and Python's parsers give up in the thousands


class LoadError(Exception):
    """The whole file cannot be loaded; the message names the file and what to do."""


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    return f"a field is longer than {FIELD_LIMIT >> 20} MiB" if "field limit" in text else text


class Record(NamedTuple):
    line: int
    raw: str
    values: list[str | None] | None  # in contract column order; None when the row is rejected by shape
    problem: str | None


class _Tap:
    """Iterates a file's lines for the csv module while keeping the text of the current record."""

    def __init__(self, lines) -> None:
        self.lines, self.buffer, self.count = lines, [], 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.count += 1
        self.buffer.append(line)
        return line

    def take(self) -> tuple[int, str]:
        start = self.count - len(self.buffer) + 1
        text = "".join(self.buffer).rstrip("\r\n")
        self.buffer.clear()
        return start, text


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL; keep the row visible in quarantine with the byte spelt out.
    return text.replace("\x00", "\\x00")


def read_csv(path: Path, contract: Contract) -> Iterator[Record]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        tap = _Tap(iter(handle))
        reader = csv.reader(tap)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise LoadError(f"{path}: the header row is not valid CSV ({_csv_problem(exc)})") from None
        tap.take()
        if header is None:
            raise LoadError(f"{path}: the file is empty; expected a header row with {contract.column_names}")
        positions = _map_header(path, header, contract)
        width = len(header)
        for _ in range(contract.skip_lines_after_header):
            try:
                if next(reader, None) is None:
                    break
            except csv.Error as exc:
                raise LoadError(f"{path}: a row under the header is not valid CSV ({_csv_problem(exc)})") from None
            tap.take()
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # a field longer than the limit, a quote left open at the end of the file
                line, raw = tap.take()
                yield Record(line, _clean(raw), None, f"not readable as CSV: {_csv_problem(exc)}")
                continue
            line, raw = tap.take()
            if not raw.strip():
                continue
            if "\x00" in raw:
                yield Record(line, _clean(raw), None, "row contains a NUL byte")
            elif len(row) != width:
                yield Record(line, raw, None, f"expected {width} fields as in the header, found {len(row)}")
            else:
                yield Record(line, raw, [None if p is None else row[p] for p in positions], None)


class CsvLayout(NamedTuple):
    columns: list[int]  # contract column index of each column in the file, in file order
    data_offset: int  # byte offset of the first record
    first_line: int  # physical line number of the first record
    lf_lines: bool  # the header's lines all end in LF, as the fast path's line numbers assume


MAX_HEADER_BYTES = 4 << 20  # the header and the rows skipped under it; a real export's are kilobytes


def csv_layout(path: Path, contract: Contract) -> CsvLayout:
    """Where the records start and which contract column each file column is, from the header alone.

    The header and the rows skipped under it are CSV records, not lines: a quoted label may hold a line break
    (Qualtrics' `"Start\nDate"`), and old Mac exports end lines with a bare CR.
    """
    with open(path, "rb") as handle:
        head = handle.read(MAX_HEADER_BYTES + 1)
    records = _leading_records(head, 1 + contract.skip_lines_after_header)
    if not records or not records[0][0].strip(b"\r\n\xef\xbb\xbf "):
        if len(head) > MAX_HEADER_BYTES:
            raise LoadError(f"{path}: no header row in the first {MAX_HEADER_BYTES >> 20} MiB; is this a CSV export?")
        raise LoadError(f"{path}: the file is empty; expected a header row with {contract.column_names}")
    if len(records) < 1 + contract.skip_lines_after_header and len(head) > MAX_HEADER_BYTES:
        raise LoadError(
            f"{path}: the rows under the header run past {MAX_HEADER_BYTES >> 20} MiB; is a quote left open?"
        )
    header = _parse_header(path, records[0][0].decode("utf-8-sig", errors="strict"))
    positions = _map_header(path, header, contract)
    by_file_column = {p: i for i, p in enumerate(positions) if p is not None}
    offset = sum(len(text) for text, _ in records)
    lines = sum(count for _, count in records)
    lf_lines = head[:offset].count(b"\n") == lines
    return CsvLayout([by_file_column[k] for k in range(len(header))], offset, 1 + lines, lf_lines)


def _leading_records(head: bytes, wanted: int) -> list[tuple[bytes, int]]:
    """The first `wanted` complete CSV records of `head`, each with its terminator and its physical line count.

    A record ends at a line break (CRLF, LF or a bare CR, as Python's and PostgreSQL's readers count lines)
    outside quotes; quotes balance because an escaped quote is doubled.
    """
    records: list[tuple[bytes, int]] = []
    start = position = lines = quotes = 0
    while len(records) < wanted and position < len(head):
        byte = head[position]
        position += 1
        if byte == 0x22:
            quotes += 1
        elif byte in (0x0A, 0x0D):
            if byte == 0x0D and head[position : position + 1] == b"\n":
                position += 1
            lines += 1
            if quotes % 2 == 0:
                records.append((head[start:position], lines))
                start, lines, quotes = position, 0, 0
    if len(records) < wanted and start < len(head) and len(head) <= MAX_HEADER_BYTES:
        records.append((head[start:], lines + 1))  # the last record, without a line break at the end
    return records


def _parse_header(path: Path, text: str) -> list[str]:
    try:
        return next(csv.reader([text.rstrip("\r\n")]))
    except csv.Error as exc:
        raise LoadError(f"{path}: the header row is not valid CSV ({exc})") from None


def _map_header(path: Path, header: list[str], contract: Contract) -> list[int | None]:
    # Names match case-insensitively: exports say `ResponseId` or `StartDate`, contract columns are lower-case.
    names = [h.strip().lower() for h in header]
    known = set(contract.column_names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise LoadError(
            f"{path}: unknown column(s) {_few(unknown)} in the header; the {contract.source}/{contract.entity}"
            f" contract expects {contract.column_names}"
        )
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise LoadError(f"{path}: column(s) {_few(duplicated)} appear more than once in the header")
    missing = [c.name for c in contract.columns if c.required and c.name not in names]
    if missing:
        raise LoadError(f"{path}: required column(s) {missing} missing from the header {_few(names, 40)}")
    return [names.index(c.name) if c.name in names else None for c in contract.columns]


def _few(names: list[str], limit: int = 5) -> str:
    """A list for a one-line message: a header of a million columns, or one of 50 MB, must not become one."""
    shown = [n if len(n) <= 40 else n[:37] + "..." for n in names[:limit]]
    return str(shown) + (f" and {len(names) - limit} more" if len(names) > limit else "")


TOO_DEEP = f"nested deeper than {MAX_JSON_DEPTH} levels"
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _too_deep(text: str) -> bool:
    """Whether JSON text nests deeper than MAX_JSON_DEPTH (brackets inside strings do not count).

    PostgreSQL's jsonb parser stops a whole statement at its stack limit, so such a record must be judged
    here. Counting brackets first keeps the scan to the rare text that could be that deep.
    """
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    depth = 0
    for token in _JSON_TOKENS.finditer(text):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif bracket in "]}":
            depth -= 1
    return False


def read_jsonl(path: Path, contract: Contract) -> Iterator[Record]:
    """JSON Lines are passed through whole; PostgreSQL's jsonb parser judges each line."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        seen_any = False
        for number, line in enumerate(handle, start=1):
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            seen_any = True
            if "\x00" in text:
                yield Record(number, _clean(text), None, "row contains a NUL byte")
            elif _too_deep(text):
                yield Record(number, text, None, TOO_DEEP)
            else:
                yield Record(number, text, None, None)
        if not seen_any and path.stat().st_size == 0:
            raise LoadError(f"{path}: the file is empty; expected one JSON object per line")


def read_json(path: Path, contract: Contract) -> Iterator[Record]:
    """A JSON document whose records are the array under `contract.records`; each record's line number is its
    1-based position in that array. A document cannot be half-read, so a broken one fails the whole file."""
    with open(path, encoding="utf-8-sig") as handle:
        text = handle.read()
    if not text.strip():
        raise LoadError(f"{path}: the file is empty; expected a JSON document with a {contract.records!r} array")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise LoadError(f"{path}: the JSON document is {TOO_DEEP}; no export nests like that") from None
    records = document.get(contract.records) if isinstance(document, dict) else None
    if not isinstance(records, list):
        raise LoadError(f"{path}: expected a top-level object with an array {contract.records!r}")
    for number, record in enumerate(records, start=1):
        raw = json.dumps(record, ensure_ascii=False)
        if "\\u0000" in raw:
            yield Record(number, raw, None, "row contains a NUL byte")
        elif _too_deep(raw):
            yield Record(number, raw, None, TOO_DEEP)
        else:
            yield Record(number, raw, None, None)


READERS = {"csv": read_csv, "jsonl": read_jsonl, "json": read_json}
