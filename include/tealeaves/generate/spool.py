"""Disk spools that keep the generator's memory flat however many customers it writes.

Three things would otherwise grow with the company: the per-customer and per-ticket parts of truth.json (the
realised MRR of every subscription, the applied SLA of every ticket, every NPS answer), records a renderer must
hold until a later moment (survey answers recorded months after their customer signed), and whole lives a
renderer reads again at the end. Each goes to a temporary file as it is produced and is read back once, in order.

`write_truth` writes truth.json byte for byte as `json.dumps(report, indent=2)` would, streaming every
`SpooledMapping` in the report from its file instead of holding it.

json.dumps with an indent runs json's pure-Python encoder (its C encoder knows no indent): 48 µs for one
ticket's SLA truth, 4% of a whole run at 10,000 customers. `indented_json` writes the same text five times
faster: json's C encoder writes it compact (so numbers and escapes are json's own), and msgspec.json.format
indents that, with the same line breaks, indent and ", "/": " separators as json.dumps(indent=2). A flat object
of strings, integers, booleans and nulls (a ticket's SLA truth, seven per customer) is written compact by
msgspec instead, which writes those as json does but for non-ASCII characters and DEL (json escapes both; such
text goes through json): json's encoder took some 10,000 machine instructions per ticket.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import struct
from array import array
from collections.abc import Iterator
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import IO, Any

import msgspec

from tealeaves.generate.sinks import ascii_json, msgspec_json, same_as_json

ENTRY_END = "\x1e"  # never raw in JSON text: json.dumps writes control characters as \u001e
INDENT = 2


# What a flat object's values may be for msgspec to write it (floats are spelled differently at the extremes)
_PLAIN_SCALARS, _STR_ONLY = frozenset({str, int, bool, type(None)}), frozenset({str})


def indented_json(value: Any) -> str:
    """Exactly `json.dumps(value, indent=2)`."""
    if (
        type(value) is dict
        and _STR_ONLY.issuperset(map(type, value))
        and _PLAIN_SCALARS.issuperset(map(type, value.values()))
    ):
        compact = msgspec_json(value)
        if same_as_json(compact):
            return msgspec.json.format(compact, indent=INDENT).decode("ascii")
    return msgspec.json.format(ascii_json(value), indent=INDENT)


class SpooledMapping:
    """A JSON object written entry by entry to a file, for truth.json; picklable, so a worker process can hand
    one to its parent. Keys are kept in the order they are added, as a dict keeps them."""

    def __init__(self, path: Path) -> None:
        self.path, self.entries = path, 0
        self._file: IO[str] | None = open(path, "w", encoding="ascii")  # noqa: SIM115 - closed in close()
        self.formatted: tuple[int, Path] | None = None  # (level, file) once format() has written it

    def add(self, key: str, value: Any) -> None:
        """One entry, rendered as json.dumps(indent=2) renders it at the top level (re-indented when written).
        A str key and an int value are written as json's encoder writes them, without building one: a ticket's
        number, a response's id, a company id, a score."""
        assert self._file is not None, f"{self.path} is closed"
        name = encode_basestring_ascii(key) if type(key) is str else ascii_json(key)
        text = repr(value) if type(value) is int else indented_json(value)
        self._file.write(f"{name}: {text}{ENTRY_END}")
        self.entries += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __getstate__(self) -> dict[str, Any]:
        self.close()
        return {"path": self.path, "entries": self.entries, "_file": None, "formatted": self.formatted}

    def _entries(self) -> Iterator[str]:
        self.close()
        with open(self.path, encoding="ascii") as spool:
            tail = ""
            while block := spool.read(1 << 20):
                *whole, tail = (tail + block).split(ENTRY_END)
                yield from whole
        assert not tail, f"{self.path} ends inside an entry"

    def load(self) -> dict[str, Any]:
        """The mapping itself, as json.loads reads it back (what a caller of generate() gets)."""
        return json.loads("{" + ",".join(self._entries()) + "}")

    def format(self, level: int) -> None:
        """Write now, to a file beside the spool, the text `write_json(out, level)` will write.

        A worker process calls this for its own mappings, in parallel with the other workers, so that the parent,
        which writes truth.json alone once every worker is done, only copies the text: re-indenting every entry
        there was a serial tail that grows with the company (a second at 100,000 customers, half of it at the
        end of 10,000's run on 2 cores)."""
        formatted = self.path.with_name(f"{self.path.name}.at{level}")
        with open(formatted, "w", encoding="ascii", buffering=1 << 20) as out:
            self._write_json(out, level)
        self.formatted = (level, formatted)

    def write_json(self, out: IO[str], level: int) -> None:
        """The mapping as json.dumps(indent=2) writes a dict whose key sits at indent `level`."""
        if self.formatted is not None and self.formatted[0] == level:
            # ASCII text is its own UTF-8: copied as bytes, under the text layer (flushed first, so in order)
            out.flush()
            with open(self.formatted[1], "rb") as text:
                shutil.copyfileobj(text, out.buffer, 1 << 20)  # type: ignore[attr-defined]
            return
        self._write_json(out, level)

    def _write_json(self, out: IO[str], level: int) -> None:
        if not self.entries:
            out.write("{}")
            return
        inner, outer = "\n" + " " * (INDENT * (level + 1)), "\n" + " " * (INDENT * level)
        out.write("{")
        first = True
        for entry in self._entries():
            out.write(inner if first else "," + inner)
            out.write(entry.replace("\n", inner))
            first = False
        out.write(outer + "}")


def _with_placeholders(value: Any, spooled: list[SpooledMapping]) -> Any:
    if isinstance(value, SpooledMapping):
        spooled.append(value)
        return f"\x00spooled:{len(spooled) - 1}\x00"
    if isinstance(value, dict):
        return {key: _with_placeholders(item, spooled) for key, item in value.items()}
    return value


def write_truth(report: dict[str, Any], path: Path) -> None:
    """Write `report` as json.dumps(report, indent=2) would, each SpooledMapping streamed from its file."""
    spooled: list[SpooledMapping] = []
    skeleton = json.dumps(_with_placeholders(report, spooled), indent=INDENT)
    with open(path, "w", encoding="utf-8") as out:
        for number, mapping in enumerate(spooled):
            marker = json.dumps(f"\x00spooled:{number}\x00")
            before, skeleton = skeleton.split(marker, 1)
            out.write(before)
            line = before.rsplit("\n", 1)[-1]
            mapping.write_json(out, (len(line) - len(line.lstrip(" "))) // INDENT)
        out.write(skeleton)


def format_spools(value: Any, level: int) -> None:
    """format() every SpooledMapping in `value`, a dict whose key sits at indent `level` in truth.json."""
    for item in value.values():
        if isinstance(item, SpooledMapping):
            item.format(level + 1)
        elif isinstance(item, dict):
            format_spools(item, level + 1)


def materialised(report: Any) -> Any:
    """`report` with every SpooledMapping read back into a dict."""
    if isinstance(report, SpooledMapping):
        return report.load()
    if isinstance(report, dict):
        return {key: materialised(item) for key, item in report.items()}
    return report


# MessagePack (msgspec) for spooled items made of plain data only: None, bools, ints, floats, strings, lists,
# tuples, dicts with string keys and aware datetimes. pickle reduces every datetime through Python code: one
# ticket's SLA outcome (two datetimes) took 7.8 us to pickle and 2.8 us to unpickle, a survey answer waiting
# for its day 10.6 and 4.8 us; MessagePack takes 0.3 and 0.6, 1.0 and 2.0. Read back, a tuple is a list and a
# datetime is the same instant in UTC (the only zone spooled items carry: the clock hands out UTC instants).
_plain_encode = msgspec.msgpack.Encoder().encode
_plain_decode = msgspec.msgpack.Decoder().decode
_FRAME = struct.Struct("<Q")  # a MessagePack batch's length, before it


class PickleSpool:
    """Objects appended to a temporary file and read back once, in order (pickled a batch at a time, so the
    strings and classes they share are written once per batch). `plain=True`: items of plain data only, written
    as MessagePack (see _plain_encode), read back with lists for tuples and UTC datetimes."""

    BATCH = 1000

    def __init__(self, path: Path, plain: bool = False) -> None:
        self.path, self.plain = path, plain
        self._file: IO[bytes] | None = open(path, "wb")  # noqa: SIM115 - closed in drain()
        self._batch: list[Any] = []

    def append(self, item: Any) -> None:
        self._batch.append(item)
        if len(self._batch) >= self.BATCH:
            self._dump()

    def _dump(self) -> None:
        assert self._file is not None, f"{self.path} was drained"
        if self._batch:
            if self.plain:
                data = _plain_encode(self._batch)
                self._file.write(_FRAME.pack(len(data)))
                self._file.write(data)
            else:
                pickle.dump(self._batch, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._batch = []

    def drain(self) -> Iterator[Any]:
        """Every item in the order appended; the file is deleted once read."""
        if self._file is not None:
            self._dump()
            self._file.close()
            self._file = None
        with open(self.path, "rb") as spool:
            while True:
                if self.plain:
                    head = spool.read(_FRAME.size)
                    if not head:
                        break
                    batch = _plain_decode(spool.read(_FRAME.unpack(head)[0]))
                else:
                    try:
                        batch = pickle.load(spool)
                    except EOFError:
                        break
                yield from batch
        self.path.unlink(missing_ok=True)


class DueSpool:
    """Items held on disk until the day whose turn comes to write them: `add(day, item)` files an item under a
    day (an ordinal), `take(day)` hands back that day's items in the order they were added. `plain=True`: items
    of plain data only, as PickleSpool's.

    Items are only ever appended, and read back with os.pread at their offsets: a seek on a buffered file drops
    its buffer, and seeking to every item and back cost the survey renderer 7% of its process's time."""

    def __init__(self, path: Path, plain: bool = False) -> None:
        self.path = path
        self._encode, self._decode = (_plain_encode, _plain_decode) if plain else (_pickled, pickle.loads)
        self._file = open(path, "w+b")  # noqa: SIM115 - closed in close()
        self._end = 0  # where the next item goes
        self._days: dict[int, array[int]] = {}

    def add(self, day: int, item: Any) -> None:
        data = self._encode(item)
        offsets = self._days.get(day)
        if offsets is None:
            offsets = self._days[day] = array("q")
        offsets.append(self._end)
        offsets.append(len(data))
        self._file.write(data)
        self._end += len(data)

    def take(self, day: int) -> list[Any]:
        offsets = self._days.pop(day, None)
        if offsets is None:
            return []
        self._file.flush()
        descriptor, decode = self._file.fileno(), self._decode
        return [decode(os.pread(descriptor, offsets[at + 1], offsets[at])) for at in range(0, len(offsets), 2)]

    def close(self) -> None:
        self._days.clear()
        self._file.close()
        self.path.unlink(missing_ok=True)


def _pickled(item: Any) -> bytes:
    return pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)


class RecordFile:
    """Fixed-size binary records (struct `layout`) appended to a file and read back by index."""

    def __init__(self, path: Path, layout: str) -> None:
        self.path, self.struct, self.count = path, struct.Struct(layout), 0
        self._file = open(path, "w+b")  # noqa: SIM115 - closed in close()

    def append(self, *values: Any) -> None:
        self._file.write(self.struct.pack(*values))
        self.count += 1

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        if not 0 <= index < self.count:
            raise IndexError(index)
        self._file.seek(index * self.struct.size)
        record = self._file.read(self.struct.size)
        self._file.seek(0, 2)
        return self.struct.unpack(record)

    def close(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)
