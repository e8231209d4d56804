"""Read an export file into records: (line number, original text, values or None, shape problem or None).

Only the shape is checked here (header, field count, JSON lines are passed through as text); types are
checked set-wise in PostgreSQL, which is faster and is the same parser that will store the value.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from tealeaves.sources import Contract

csv.field_size_limit(16 * 1024 * 1024)


class LoadError(Exception):
    """The whole file cannot be loaded; the message names the file and what to do."""


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
        header = next(reader, None)
        tap.take()
        if header is None:
            raise LoadError(f"{path}: the file is empty; expected a header row with {contract.column_names}")
        positions = _map_header(path, header, contract)
        width = len(header)
        for _ in range(contract.skip_lines_after_header):
            if next(reader, None) is None:
                break
            tap.take()
        for row in reader:
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


def csv_layout(path: Path, contract: Contract) -> CsvLayout:
    """Where the records start and which contract column each file column is, from the header alone."""
    with open(path, "rb") as handle:
        first = handle.readline()
        if not first.strip(b"\r\n\xef\xbb\xbf "):
            raise LoadError(f"{path}: the file is empty; expected a header row with {contract.column_names}")
        header = next(csv.reader([first.decode("utf-8-sig", errors="strict")]))
        positions = _map_header(path, header, contract)
        for _ in range(contract.skip_lines_after_header):
            handle.readline()
        offset = handle.tell()
    by_file_column = {p: i for i, p in enumerate(positions) if p is not None}
    return CsvLayout([by_file_column[k] for k in range(len(header))], offset, 2 + contract.skip_lines_after_header)


def _map_header(path: Path, header: list[str], contract: Contract) -> list[int | None]:
    # Names match case-insensitively: exports say `ResponseId` or `StartDate`, contract columns are lower-case.
    names = [h.strip().lower() for h in header]
    known = set(contract.column_names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise LoadError(
            f"{path}: unknown column(s) {unknown} in the header; the {contract.source}/{contract.entity} contract"
            f" expects {contract.column_names}"
        )
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise LoadError(f"{path}: column(s) {duplicated} appear more than once in the header")
    missing = [c.name for c in contract.columns if c.required and c.name not in names]
    if missing:
        raise LoadError(f"{path}: required column(s) {missing} missing from the header {names}")
    return [names.index(c.name) if c.name in names else None for c in contract.columns]


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
    records = document.get(contract.records) if isinstance(document, dict) else None
    if not isinstance(records, list):
        raise LoadError(f"{path}: expected a top-level object with an array {contract.records!r}")
    for number, record in enumerate(records, start=1):
        raw = json.dumps(record, ensure_ascii=False)
        if "\\u0000" in raw:
            yield Record(number, raw, None, "row contains a NUL byte")
        else:
            yield Record(number, raw, None, None)


READERS = {"csv": read_csv, "jsonl": read_jsonl, "json": read_json}
