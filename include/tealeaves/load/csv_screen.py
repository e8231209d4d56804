"""Find, from the bytes alone, the CSV lines whose values a typed COPY could read differently from the text rules.

A line without a quote character is its fields split at every comma, byte for byte as COPY's CSV parser
splits it, so the rules that need a value's text can be tested on the bytes, for a whole chunk of lines at
once with numpy instead of by a COPY into a text table (0.2 s of the server's time for 500,000 rows):
a value with a space at either end (the text rules trim it), a required value that is empty, a number or
date that does not start with a digit, or a sign or point then a digit. A line with a quote is left to the
text rules, as is every line this screen names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tealeaves.sources import Contract

# Numbers and dates must start with a digit, or a sign or point then a digit: PostgreSQL also reads words
# ('yesterday', 'epoch', 'NaN', 'Infinity', 'January 8') as these types, and an export that says them is broken.
DIGIT_FIRST = {"numeric", "date", "timestamptz"}
_LF, _CR, _QUOTE, _COMMA, _SPACE = 10, 13, 34, 44, 32
_DIGIT_0, _DIGIT_9, _PLUS, _MINUS, _POINT = 48, 57, 43, 45, 46


class NotOneLinePerRecord(Exception):
    """A line is not one record of the file's width (or COPY said so in words this module cannot read)."""


def blocks(path: Path, offset: int) -> Iterator[bytes]:
    """The file from `offset` in blocks of whole lines of about a MiB; the last line may lack its LF."""
    rest = b""
    with open(path, "rb") as handle:
        handle.seek(offset)
        while True:
            chunk = handle.read(1 << 20)
            block = rest + chunk
            end = block.rfind(b"\n") + 1 if chunk else len(block)
            block, rest = block[:end], block[end:]
            if block:
                yield block
            if not chunk:
                return


def line_ends(block: bytes) -> np.ndarray:
    """Where each of the block's lines ends: the offset of its LF, or the block's end for a last line without."""
    ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == _LF)
    return ends if block.endswith(b"\n") else np.append(ends, len(block))


def lines_of_block(block: bytes) -> list[bytes]:
    """The block's lines without their LF."""
    lines = block.split(b"\n")
    if block.endswith(b"\n"):
        lines.pop()
    return lines


class Screen:
    """The screen for one file: `columns` is the contract column of each field in the file."""

    def __init__(self, contract: Contract, columns: list[int]) -> None:
        self.width = len(columns)
        self.required = np.array([contract.columns[c].required for c in columns])
        self.digit_first = np.array([contract.columns[c].type in DIGIT_FIRST for c in columns])

    def doubtful(self, block: bytes) -> np.ndarray:
        """Indexes of the block's doubtful lines (`blocks`); raises NotOneLinePerRecord when a line without
        quotes has not as many fields as the header."""
        return _screen_block(block, self.width, self.required, self.digit_first)


def _screen_block(block: bytes, width: int, required: np.ndarray, digit_first: np.ndarray) -> np.ndarray:
    """Indexes of the doubtful lines of a block of whole lines (the last one maybe without its LF).

    Each line's fields are found from its commas: a line without quotes must have `width - 1` of them, and the
    rows of `commas` then hold each line's own, in order (a line with more or fewer would shift a row's first
    comma before its line's start or its last one past its line's end)."""
    data = np.frombuffer(block, dtype=np.uint8)
    ends = line_ends(block)
    starts = np.concatenate(([0], ends[:-1] + 1))
    stops = ends - ((ends > starts) & (data[np.maximum(ends - 1, 0)] == _CR))  # a CRLF's CR ends no value
    quoted = np.zeros(len(ends), dtype=bool)
    quotes = np.flatnonzero(data == _QUOTE)
    commas = np.flatnonzero(data == _COMMA)
    if len(quotes):
        quoted[np.searchsorted(ends, quotes)] = True
        commas = commas[~quoted[np.searchsorted(ends, commas)]]
    plain = np.flatnonzero(~quoted)
    if len(commas) != len(plain) * (width - 1):
        raise NotOneLinePerRecord
    commas = commas.reshape(len(plain), width - 1)
    if width > 1 and ((commas[:, 0] < starts[plain]).any() or (commas[:, -1] >= stops[plain]).any()):
        raise NotOneLinePerRecord
    first = np.column_stack([starts[plain], commas + 1])  # where each field's value starts, and stops
    after = np.column_stack([commas, stops[plain]])
    empty = first == after
    size = len(data)
    head = np.where(empty, 0, data[np.minimum(first, size - 1)])
    tail = np.where(empty, 0, data[np.maximum(after - 1, 0)])
    second = np.where(after - first >= 2, data[np.minimum(first + 1, size - 1)], 0)
    digit = (head >= _DIGIT_0) & (head <= _DIGIT_9)
    signed = ((head == _PLUS) | (head == _MINUS) | (head == _POINT)) & (second >= _DIGIT_0) & (second <= _DIGIT_9)
    bad = (head == _SPACE) | (tail == _SPACE)
    bad |= empty & required
    bad |= ~empty & digit_first & ~(digit | signed)
    return np.sort(np.concatenate([np.flatnonzero(quoted), plain[bad.any(axis=1)]]))
