"""The JSON Lines fast path parses each line into jsonb as COPY reads it; every line must end as the exact path
decides it.

The oracle is the exact path: Python reads the lines, and each one's text is staged and parsed in the publish
step. Each file is loaded twice, once as it is (fast path) and once with a line holding a raw control byte added
at its end (\\x01, never in JSON text), which no fast path takes; the lines they share must load the same values
or be rejected with the same text and reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tealeaves.load import load_paths
from tealeaves.load.loader import _check_numbered_by_line, _NeedsExactPath, _stage_jsonl_fast
from tealeaves.sources import contracts
from tests.warehouse import outcome

CHARGES = contracts()[("billing", "charges")]
GOOD = {
    "id": "ch_1",
    "customer": "cus_1",
    "invoice": "in_1",
    "status": "succeeded",
    "amount": 1200,
    "currency": "usd",
    "paid": True,
    "outcome": {"type": "authorized", "network_status": "approved_by_network"},
    "payment_method_details": {"type": "card"},
    "created": 1735700000,
}
NOT_FOR_A_FAST_PATH = '{"id": "ch_\x01"}'


def charge(**changes: object) -> str:
    return json.dumps({**GOOD, **changes})


LINES = [
    charge(),
    charge(id="ch_2", amount="1300"),  # a number as a string: the text rules read it
    charge(id="ch_3").replace('"amount": 1200', '"amount": 1.2e3'),  # jsonb writes 1200
    charge(id="ch_4", amount="n/a"),
    charge(id="ch_5", amount=1.5),
    json.dumps({k: v for k, v in GOOD.items() if k != "id"}),
    charge(id="  ch_7 ", description=" spaced "),
    "",
    "   ",
    "[1, 2]",
    "null",
    '"a string"',
    "{}",
    charge(id="ch_14")[:40],  # cut short
    '{"id": "ch_15", "id": "ch_15b", "status": "succeeded", "amount": 1, "currency": "usd", "created": 1}',
    charge(id="ch_16", outcome="authorized", payment_method_details=None),
    "   " + charge(id="ch_17") + "  ",
    charge(id="ch_18", paid="yes", captured="maybe"),
    charge(id="ch_19", created="  "),
    charge(id=19_000, description=1.50),  # numbers where the contract says text
    charge(id="ch_21", amount=10**20),
    charge(id="ch_22", currency=""),
    charge(id="ch_23", failure_message="line\nbreak \u00e9 \\ backslash"),
]
UNICODE_ZERO = charge(id="ch_2").replace("ch_2", "ch_\\u0000")  # valid json; jsonb refuses the escape


def write_both(
    folder: Path, lines: list[str], bom: bool = False, ending: str = "\n", last_ending: bool = True
) -> tuple[Path, Path]:
    fast, exact = folder / "fast" / "charges.jsonl", folder / "exact" / "charges.jsonl"
    for path, extra in ((fast, []), (exact, [NOT_FOR_A_FAST_PATH])):
        path.parent.mkdir(parents=True)
        text = ending.join([*lines, *extra]) + (ending if last_ending else "")
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return fast, exact


def takes_fast_path(url: str, path: Path) -> bool:
    """Whether the JSON Lines fast path takes the file; what it stages is rolled back."""
    with psycopg.connect(url) as conn:
        conn.execute("select")  # opens the transaction, so that the fast path's block is a savepoint in it
        taken = _stage_jsonl_fast(conn, path, CHARGES)
        conn.rollback()
    return taken


def assert_decided_alike(url: str, fast: Path, exact: Path, lines: list[str]) -> tuple[list, list]:
    [by_fast] = load_paths(url, [fast], strict=False)
    [by_exact] = load_paths(url, [exact], strict=False)
    if by_fast.status == by_exact.status == "unchanged":  # hypothesis repeated an earlier file
        return [], []
    assert takes_fast_path(url, fast), "the fast path takes the file as it is"
    assert not takes_fast_path(url, exact), "no fast path takes a file with a raw control byte"
    fast_outcome = outcome(url, CHARGES.table, CHARGES.column_names, by_fast.batch_id, len(lines))
    assert fast_outcome == outcome(url, CHARGES.table, CHARGES.column_names, by_exact.batch_id, len(lines))
    loaded, rejected = fast_outcome
    assert (by_fast.rows_loaded, by_fast.rows_rejected) == (len(loaded), len(rejected))
    assert len(loaded) + len(rejected) == sum(1 for line in lines if line.strip()), "blank lines are no records"
    return loaded, rejected


@pytest.mark.parametrize("bom", [False, True], ids=["plain", "byte-order-mark"])
@pytest.mark.parametrize("first", ["", "{not json"], ids=["as-listed", "bad-first-line"])
@pytest.mark.parametrize(
    ("ending", "last_ending"), [("\n", True), ("\r\n", True), ("\n", False)], ids=["LF", "CRLF", "no-last-LF"]
)
def test_the_jsonl_fast_path_decides_every_line_as_the_exact_path(
    tmp_path, fresh_database, bom, first, ending, last_ending
):
    lines = [first, *LINES] if first else LINES
    files = write_both(tmp_path, lines, bom, ending, last_ending)
    loaded, rejected = assert_decided_alike(fresh_database, *files, lines)
    assert loaded and rejected, "the file has lines of both kinds"
    if first:
        assert rejected[0][:2] == (1, first), "the first line's text comes without the byte-order mark"


def test_a_line_jsonb_refuses_is_rejected_as_the_exact_path_rejects_it(tmp_path, fresh_database):
    """A \\u0000 escape is valid json that jsonb refuses: the exact path judges the whole file as jsonb then."""
    lines = [charge(), UNICODE_ZERO, charge(id="ch_3")]
    loaded, rejected = assert_decided_alike(fresh_database, *write_both(tmp_path, lines), lines)
    assert [line for line, *_ in loaded] == [1, 3] and [(line, text) for line, text, _ in rejected] == [
        (2, UNICODE_ZERO)
    ]


def test_a_file_of_refused_lines_only_is_rejected_line_by_line(tmp_path, fresh_database):
    lines = ["{x", "   ", "nope", charge()[:30], UNICODE_ZERO]
    loaded, rejected = assert_decided_alike(fresh_database, *write_both(tmp_path, lines), lines)
    assert loaded == [] and [line for line, *_ in rejected] == [1, 3, 4, 5]


json_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", " ", " 1", "1 ", "12", "t", "no", "n/a", "1e3", "0x1F", "1_000", "\\", "\u00e9"]),
    st.dictionaries(st.sampled_from(["type", "id"]), st.sampled_from(["card", " x ", 7]), max_size=2),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(
        st.dictionaries(st.sampled_from(sorted({*GOOD, "description", "refunded"})), json_value, max_size=4),
        min_size=1,
        max_size=12,
    )
)
def test_any_mix_of_json_values_is_decided_as_the_exact_path_decides_it(tmp_path_factory, fresh_database, records):
    # every third record cut short, jsonb refusing it wherever it falls among the others
    lines = [charge(**changes)[: None if i % 3 else 25] for i, changes in enumerate(records)]
    fast, exact = write_both(tmp_path_factory.mktemp("charges"), lines)
    assert_decided_alike(fresh_database, fast, exact, lines)


def test_numbering_that_does_not_count_the_refused_lines_sends_the_file_to_the_exact_path(fresh_database):
    """Line numbers come from an identity that PostgreSQL 18 advances for a line COPY skips; were it not advanced,
    the staged lines would be numbered one short after each refused line, and the file must take the exact path."""
    with psycopg.connect(fresh_database) as conn:
        conn.execute("create temp table _incoming (_line bigint)")
        conn.execute("insert into _incoming values (1), (2)")  # lines 1 and 3 of a file whose line 2 was refused
        with pytest.raises(_NeedsExactPath):
            _check_numbered_by_line(conn, 3, [2])
        _check_numbered_by_line(conn, 3, [3])  # numbered alike either way when the refused lines come last
        conn.execute("update _incoming set _line = 3 where _line = 2")
        _check_numbered_by_line(conn, 3, [2])
