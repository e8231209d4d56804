"""Export files that carry the planted mess: duplicates, broken lines, blank ids, late deliveries.

Every planted defect is an *extra* line beside the good record (a repeated line, a mangled copy, a copy with
its id blanked), except late arrivals, which move the record to a later file. So the clean truth still holds,
and `truth.json` counts each defect per file, for tests to find every one of them again.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from tealeaves.generate.world import Dirt

LATE_SUFFIX = "__late"


class Sink:
    """One export file (and its late-delivery sibling); subclasses say how a record becomes a line.

    Lines are bytes, written to binary files: JSON lines come out of msgspec as bytes already, and a text file's
    layer decoded them to str and encoded them back for every line (with the file's own bookkeeping, 1.1 us of
    Sink.write's 6.2 at 10,000 customers x 24 months); a CSV line is encoded once, to UTF-8, as the text file did.
    """

    def __init__(
        self, root: Path, name: str, dirt: Dirt, rng: random.Random, key: str | None, cosmetic: tuple[str, ...] = ()
    ) -> None:
        self.path, self.name = root / name, name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        stem, dot, ext = name.rpartition(".")
        self.late_name = f"{stem}{LATE_SUFFIX}{dot}{ext}"
        self.dirt, self.rng, self.key = dirt, rng, key
        self.cosmetic = cosmetic  # fields a second export may spell differently (never ids or references)
        # Read once per line of every file: the stream's method and the rates, kept here (a rate apiece: an
        # attribute read is cheaper than unpacking a tuple of five for every line)
        self._random = rng.random
        self._late_rate, self._exact_rate = dirt.late_arriving, dirt.exact_duplicate
        self._near_rate, self._malformed_rate, self._missing_rate = dirt.near_duplicate, dirt.malformed, dirt.missing_id
        # What was written, by kind: a defaultdict, not a Counter. Counter defines __delitem__ in Python, and a
        # dict subclass's item access then goes through the generic slots (each `counts[key] += 1` looks up
        # __getitem__ and __setitem__ by name: ten times the instructions of a dict's); every line counts one.
        # A key appears when first counted, as in a Counter; read counts with .get(), which adds no key.
        self.counts: defaultdict[str, int] = defaultdict(int)
        # open file (main or late) -> rows written there the loader rejects; its records are counted in `counts`
        self._rejected: dict[BinaryIO, int] = {}
        self._main = _open_export(self.path)
        self._late: BinaryIO | None = None

    def _render(self, record: dict[str, Any]) -> bytes:
        raise NotImplementedError

    def _render_line(self, record: dict[str, Any]) -> bytes | bytearray:
        """The record's line as write() first writes it: _render's bytes, or a buffer the sink reuses (valid until
        the next call), so the copies a defect writes are rendered with _render."""
        return self._render(record)

    def _mangle(self, line: bytes) -> bytes:
        raise NotImplementedError

    def header(self) -> None:
        """Write whatever precedes the records (CSV header)."""

    def blank_line(self) -> None:
        """A line with nothing on it, in the main file."""
        self._main.write(b"\n")

    def write(self, record: dict[str, Any], keep: bool = True) -> None:
        """Write the record and the defects drawn for it. `keep=False` draws exactly as writing would and writes
        and counts nothing: a record the export leaves out (an event past Stripe's retention) leaves every other
        record's ids and defects as they were."""
        if not keep:
            self._draw_left_out(record)
            return
        # Some 190 lines a customer: the usual line (no defect drawn) runs as few steps as it can
        random = self._random
        line = self._render_line(record)
        if random() < self._late_rate:
            target = self._late_file()
            self.counts["late_arriving"] += 1
        else:
            target = self._main
        target.write(line)
        self.counts["records"] += 1
        if random() < self._exact_rate:
            target.write(line)
            self.counts["exact_duplicate"] += 1
        if self.cosmetic and random() < self._near_rate:
            target.write(self._render(_cosmetic(record, self.rng, self.cosmetic)))
            self.counts["near_duplicate"] += 1
        if random() < self._malformed_rate and self._room_for_a_rejected_row(target):
            target.write(self._mangle(line))
            self.counts["malformed"] += 1
        if self.key and random() < self._missing_rate and self._room_for_a_rejected_row(target):
            target.write(self._render({**record, self.key: None}))
            self.counts["missing_id"] += 1

    def _draw_left_out(self, record: dict[str, Any]) -> None:
        """What write() draws for a record, without writing or counting it (rendering draws nothing)."""
        random = self._random
        random()  # late_arriving
        random()  # exact_duplicate
        if self.cosmetic and random() < self._near_rate:
            _cosmetic(record, self.rng, self.cosmetic)
        random()  # malformed
        if self.key:
            random()  # missing_id

    def _room_for_a_rejected_row(self, target: BinaryIO) -> bool:
        """Rows the loader rejects stay within the 5% a healthy file may have (the raw gate's limit), in the main
        file and in its late sibling each: one broken line among a four-row campaigns file, or a ten-row late
        file, is a broken export, which the default world is not."""
        late = self.counts.get("late_arriving", 0)
        records = late if target is self._late else self.counts.get("records", 0) - late
        rejected = self._rejected.get(target, 0)
        if (rejected + 1) * 20 > records:
            return False
        self._rejected[target] = rejected + 1
        return True

    def _late_file(self) -> BinaryIO:
        if self._late is None:
            self._late = _open_export(self.path.parent / self.late_name)
            first, self._main = self._main, self._late
            self.header()
            self._main = first
        return self._late

    def close(self) -> None:
        self._main.close()
        if self._late is not None:
            self._late.close()


# An export file's buffer: 8 KiB by default, a write() system call for every few lines; a 100,000-customer world
# writes 6 GB. 256 KiB writes the same bytes with a thirtieth of the calls (300 MB of 600-byte lines: 0.27 s of
# CPU with the default, 0.10 s with this); a process has some 50 export files open at most.
EXPORT_BUFFER = 1 << 18


def _open_export(path: Path) -> BinaryIO:
    return open(path, "wb", buffering=EXPORT_BUFFER)  # noqa: SIM115 - closed in close()


def _cosmetic(record: dict[str, Any], rng: random.Random, fields: tuple[str, ...]) -> dict[str, Any]:
    """The same record as a second export would show it: one descriptive field's case and spacing changed."""
    changed = dict(record)
    text_fields = [k for k in fields if isinstance(record.get(k), str) and record[k]]
    if text_fields:
        name = rng.choice(text_fields)
        changed[name] = f" {record[name].upper()} " if rng.random() < 0.5 else record[name].lower() + " "
    return changed


def _csv_text(value: Any) -> str:
    """The text csv's writer writes for a value that is not a str: None empty, a float by repr, else str."""
    if value is None:
        return ""
    return repr(value) if type(value) is float else str(value)


class _LineCatcher:
    """A csv writer's "file" whose write hands the line back."""

    write = staticmethod(str)


class CsvSink(Sink):
    def __init__(
        self,
        root: Path,
        name: str,
        columns: list[str],
        dirt: Dirt,
        rng: random.Random,
        key: str | None,
        cosmetic: tuple[str, ...] = (),
    ):
        self.columns = columns
        # csv's writerow returns what its file's write returns: given str as write, the line itself (one call
        # instead of a StringIO's seek, truncate, write and getvalue)
        self._writer = csv.writer(_LineCatcher(), lineterminator="\n")
        self._commas = len(columns) - 1  # a row's commas when no field holds one
        super().__init__(root, name, dirt, rng, key, cosmetic)
        self.header()

    def header(self) -> None:
        self._main.write(self._line(self.columns))

    def _line(self, values: list[Any]) -> bytes:
        return self._writer.writerow(values).encode()

    def _render(self, record: dict[str, Any]) -> bytes:
        """The record's row as csv's writer writes it. csv tests every character of every field against the
        delimiter, quote and line terminator, twice (once to size the row, once to copy it): 24,000 machine
        instructions a CRM row. A row none of whose fields needs quoting is its fields' text joined by commas,
        which a few tests of the joined text tell; any other row goes through the writer."""
        values = [record.get(column) for column in self.columns]
        line = ",".join([value if type(value) is str else _csv_text(value) for value in values])
        # no field holds a comma, a quote or a line break (and the row is not one empty field, which csv quotes)
        if line and line.count(",") == self._commas and '"' not in line and "\n" not in line and "\r" not in line:
            return (line + "\n").encode()
        return self._writer.writerow(values).encode()

    def _mangle(self, line: bytes) -> bytes:
        # A row cut short: the last fields lost, as when an export is truncated mid-line. (UTF-8 writes no other
        # character with the bytes of "," or a line break, so this cuts the text where the text's own split would.)
        return line.rstrip(b"\n").rsplit(b",", 2)[0] + b"\n"


# json.dumps(record, separators=(",", ":")) without building an encoder for every record: the same C encoder
# json.dumps makes (no indent, ASCII, NaN allowed), made once; circular references are not checked (records are
# trees of dicts and lists).
_encode_compact = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True
    )
    if json.encoder.c_make_encoder is not None
    else None
)  # type: ignore[attr-defined]

# msgspec writes the same compact JSON about four times faster than the C encoder above (a profile of 10,000
# customers x 24 months spent 14% of its time in that encoder). It differs from json.dumps in three ways only:
# it writes non-ASCII characters and DEL raw where json.dumps escapes them (\u00e9, \u007f); it spells floats
# below 1e-4 or from 1e16 up in another notation (0.00007 for 7e-05, 1e16 for 1e+16), the same value; and it
# writes NaN and infinities as null where json.dumps writes NaN and Infinity, which are not JSON. A line with a
# non-ASCII character or DEL (same_as_json) goes through json's encoder, so the files stay ASCII as before. The
# generator's only floats are coupons' percent_off (10.0 to 20.0), where the two agree (they agreed on 3 million
# random floats from 1e-4 to 1e16); tests/unit/test_generator.py holds both to that.
msgspec_json = msgspec.json.Encoder().encode
_encode_into = msgspec.json.Encoder().encode_into


def same_as_json(line: bytes | bytearray) -> bool:
    """Whether msgspec's compact JSON of a record (no floats but coupons') is what json.dumps writes: ASCII
    without DEL, the characters json escapes and msgspec does not."""
    return line.isascii() and 0x7F not in line


def compact_json(record: dict[str, Any]) -> str:
    """`json.dumps(record, separators=(",", ":"))`, ASCII only."""
    line = msgspec_json(record)
    if same_as_json(line):
        return line.decode("ascii")
    return ascii_json(record)


def ascii_json(record: Any) -> str:
    """Exactly `json.dumps(record, separators=(",", ":"))`."""
    if _encode_compact is None:
        return json.dumps(record, separators=(",", ":"))
    return "".join(_encode_compact(record, 0))


class JsonlSink(Sink):
    def __init__(
        self, root: Path, name: str, dirt: Dirt, rng: random.Random, key: str | None, cosmetic: tuple[str, ...] = ()
    ) -> None:
        super().__init__(root, name, dirt, rng, key, cosmetic)
        self._line = bytearray()

    def _render(self, record: dict[str, Any]) -> bytes:
        line = msgspec_json(record)  # compact_json, inlined
        if same_as_json(line):
            return line + b"\n"
        return ascii_json(record).encode("ascii") + b"\n"

    def _render_line(self, record: dict[str, Any]) -> bytes | bytearray:
        """_render into one buffer, reused for every line: msgspec's encode() grows a new buffer for each line,
        makes bytes of it and the newline another copy (2.5% of a run's instructions, once per line)."""
        line = self._line
        _encode_into(record, line)
        if same_as_json(line):
            line.append(10)  # "\n"
            return line
        return ascii_json(record).encode("ascii") + b"\n"

    def _mangle(self, line: bytes) -> bytes:
        return line[: max(1, len(line) // 2)] + b"\n"
