"""A daily run tests the rows staged since a data test last passed, and loses no verdict by it (issue 15).

macros/scoped_data_tests.sql lets a passing test on an incremental staging table skip, next run, the rows it
passed on. Day one plants a comment on a ticket that does not exist; day two plants a status change on another
one, and a copy of a day-one comment on another ticket (the same comment id twice). The relationships test that
failed on day one must fail again on day two, though no day-two batch carries its orphan; the one that passed
must read only day two's rows and still catch day two's orphan; the unique test on comment ids must catch the
copy, whose twin is a day-one row; after a whole re-stage every test reads its whole table again. And a
relationships test that passed only because its parent table was empty (the export absent) must read everything
once the parent arrives. A model past staging, which has no batch ids, is tested on the rows written since its test
last passed, and a row broken behind its back after that is one of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from tealeaves.generate.next_day import split_next_day
from tests.conftest import create_database, dbt_build
from tests.integration.test_incremental_daily_run import _named_on

WORLD = {"customers": 60, "months": 3, "seed": 99}
STAGING = "stg_support__tickets stg_support__ticket_comments stg_support__ticket_field_history"
COMMENTS_TO_TICKETS = "relationships_stg_support__ticket_comments_ticket_id__ticket_id__ref_stg_support__tickets_"
CHANGES_TO_TICKETS = "relationships_stg_support__ticket_field_history_ticket_id__ticket_id__ref_stg_support__tickets_"
# one column_values test per model (tests/generic/column_values.sql), named after its model
COMMENT_VALUES = "column_values_stg_support__ticket_comments"
COMMENT_ID_UNIQUE = "unique_stg_support__ticket_comments_comment_id"
NO_SUCH_TICKET = 9_000_000_001
SCOPED = "load_batch_id >"  # the condition the scoping adds to a test's query
# a model past staging, kept by its own keys (ticket_id): its tests skip the rows written before they last passed
STATUSES = "int_ticket_statuses_dated"
STATUS_VALUES = "column_values_int_ticket_statuses_dated"
REWRITTEN = "age(xmin) <="  # the condition the scoping adds to such a test's query


def _load(url: str, *folders: Path) -> None:
    """Load each folder's exports, then run the raw gate on them, as the daily DAG does."""
    from tealeaves.load import load_paths
    from tealeaves.quality.raw_gate import run_raw_gate

    for folder in folders:
        load_paths(url, sorted(p for p in folder.iterdir() if p.is_dir()))
    run_raw_gate(url, "scoped data tests")


def _records(exports: Path, entity: str) -> list[dict]:
    """The records of `entity` in `exports` that name a ticket (not the generator's malformed lines)."""
    records = []
    for line in (exports / "support" / f"{entity}.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("ticket_id"), int):
            records.append(record)
    return records


def _plant(folder: Path, entity: str, record: dict) -> None:
    # a file of its own name: a one-line file named like the whole export is a truncated one to the raw gate
    (folder / "support").mkdir(parents=True, exist_ok=True)
    (folder / "support" / f"{entity}__planted.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")


def _record_id(line: str):
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None  # the generator's malformed lines
    return record.get("id") if isinstance(record, dict) else None


def _verdict(results: dict, test: str) -> tuple[str, int, bool]:
    """A test's status, its failing rows and whether it read only rows staged since it last passed."""
    result = results[test]
    return result["status"], result["failures"], SCOPED in result["compiled_code"]


def _scoped(results: dict) -> set[str]:
    """The tests that read only rows staged since they last passed."""
    return {name for name, result in results.items() if SCOPED in (result.get("compiled_code") or "")}


def test_scoped_data_tests_keep_every_verdict(server, tmp_path):
    from tealeaves.generate import generate

    exports = tmp_path / "exports"
    generate(exports, **WORLD)
    moved = split_next_day(exports, tmp_path / "day1", tmp_path / "day2", days_before_end=4)
    assert moved["ticket_comments.jsonl"] > 0 and moved["ticket_field_history.jsonl"] > 0, moved
    comments = _records(tmp_path / "day1", "ticket_comments")
    change = _records(tmp_path / "day1", "ticket_field_history")[0]
    _plant(tmp_path / "orphan-comment", "ticket_comments", dict(comments[0], id=10**12, ticket_id=NO_SUCH_TICKET))
    _plant(tmp_path / "day2-planted", "ticket_field_history", dict(change, id=10**12, ticket_id=NO_SUCH_TICKET))
    other_ticket = next(c["ticket_id"] for c in comments if c["ticket_id"] != comments[1]["ticket_id"])
    _plant(tmp_path / "day2-planted", "ticket_comments", dict(comments[1], ticket_id=other_ticket))

    url = create_database(server, "t_scoped_data_tests")
    _load(url, tmp_path / "day1", tmp_path / "orphan-comment")
    day1 = dbt_build(url, STAGING, tmp_path / "dbt-day1", failing_tests=True)
    assert _verdict(day1, COMMENTS_TO_TICKETS) == ("fail", 1, False)
    assert _verdict(day1, CHANGES_TO_TICKETS) == ("pass", 0, False)
    assert _verdict(day1, COMMENT_VALUES) == ("pass", 0, False)
    assert _verdict(day1, COMMENT_ID_UNIQUE) == ("pass", 0, False)

    _load(url, tmp_path / "day2", tmp_path / "day2-planted")
    day2 = dbt_build(url, STAGING, tmp_path / "dbt-day2", failing_tests=True)
    # failed yesterday: read whole again, and still failing on yesterday's orphan
    assert _verdict(day2, COMMENTS_TO_TICKETS) == ("fail", 1, False)
    # passed yesterday: read only what day two staged, where it finds day two's orphan
    assert _verdict(day2, CHANGES_TO_TICKETS) == ("fail", 1, True)
    assert _verdict(day2, COMMENT_VALUES) == ("pass", 0, True)
    # a day-two comment whose id a day-one comment on another ticket has
    assert _verdict(day2, COMMENT_ID_UNIQUE) == ("fail", 1, True)
    assert len(_scoped(day2)) > 5, _scoped(day2)

    # every table re-staged whole: no test may skip a row
    again = dbt_build(url, STAGING, tmp_path / "dbt-again", failing_tests=True, full_refresh=True)
    assert _scoped(again) == set()
    assert _verdict(again, COMMENTS_TO_TICKETS) == ("fail", 1, False)
    assert _verdict(again, CHANGES_TO_TICKETS) == ("fail", 1, False)


def test_a_check_passed_on_an_absent_parent_export_reads_everything_when_it_arrives(server, tmp_path):
    from tealeaves.generate import generate

    exports = tmp_path / "exports"
    generate(exports, **WORLD)
    comments_only, tickets = tmp_path / "comments" / "support", tmp_path / "tickets" / "support"
    comments_only.mkdir(parents=True)
    tickets.mkdir(parents=True)
    (comments_only / "ticket_comments.jsonl").write_text(
        (exports / "support" / "ticket_comments.jsonl").read_text(encoding="utf-8"), encoding="utf-8"
    )
    # the tickets export arrives a day later, without the ticket of the first comment
    first_comment = json.loads((comments_only / "ticket_comments.jsonl").read_text(encoding="utf-8").splitlines()[0])
    lines = (exports / "support" / "tickets.jsonl").read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if _record_id(line) != first_comment["ticket_id"]]
    assert len(kept) == len(lines) - 1
    (tickets / "tickets.jsonl").write_text("\n".join(kept) + "\n", encoding="utf-8")

    url = create_database(server, "t_scoped_absent_parent")
    _load(url, tmp_path / "comments")
    day1 = dbt_build(url, STAGING, tmp_path / "dbt-day1")
    assert _verdict(day1, COMMENTS_TO_TICKETS) == ("pass", 0, False)  # no tickets at all: unresolvable, not broken

    _load(url, tmp_path / "tickets")
    day2 = dbt_build(url, STAGING, tmp_path / "dbt-day2", failing_tests=True)
    status, failures, scoped = _verdict(day2, COMMENTS_TO_TICKETS)
    assert (status, scoped) == ("fail", False) and failures > 0


def test_a_model_past_staging_tests_the_rows_written_since_its_test_passed(server, tmp_path):
    """An incremental model past staging has no batch ids: its tests skip the rows written before they last passed
    on the same table, told by the transaction that wrote each row (macros/scoped_data_tests.sql). A row a writer
    other than the model breaks after the test passed on it is a row written since: the next run's test, reading
    only the day's rows, catches it, and keeps catching it until it is mended; a full refresh reads everything."""
    from tealeaves.generate import generate
    from tests.warehouse import query

    exports = tmp_path / "exports"
    generate(exports, **WORLD)
    split_next_day(exports, tmp_path / "day1", tmp_path / "day2", days_before_end=4)
    named = sorted(t for t in _named_on(tmp_path / "day2") if isinstance(t, int))
    selection = f"{STAGING} int_support_as_of {STATUSES}"

    url = create_database(server, "t_scoped_rewritten_rows")
    _load(url, tmp_path / "day1")
    day1 = dbt_build(url, selection, tmp_path / "dbt-day1")
    assert _verdict(day1, STATUS_VALUES) == ("pass", 0, False)
    assert REWRITTEN not in day1[STATUS_VALUES]["compiled_code"]
    [(ticket, held)] = query(
        url,
        f"select min(ticket_id) filter (where not ticket_id = any(%s)), count(*) from intermediate.{STATUSES}",
        named,
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"update intermediate.{STATUSES} set ticket_id = null where ticket_id = %s", [ticket])

    _load(url, tmp_path / "day2")
    day2 = dbt_build(url, selection, tmp_path / "dbt-day2", failing_tests=True)
    [(broken, rewritten)] = query(
        url,
        f"select count(*) filter (where ticket_id is null), count(*) filter (where ticket_id = any(%s))"
        f" from intermediate.{STATUSES}",
        named,
    )
    assert broken > 0 and 0 < rewritten < held, "day two rewrote some tickets, not the broken one"
    status, failures, _ = _verdict(day2, STATUS_VALUES)
    assert (status, failures, REWRITTEN in day2[STATUS_VALUES]["compiled_code"]) == ("fail", 1, True)

    # failed: the next run still reads the row, though nothing rewrote it since
    again = dbt_build(url, selection, tmp_path / "dbt-again", failing_tests=True)
    assert (again[STATUS_VALUES]["status"], REWRITTEN in again[STATUS_VALUES]["compiled_code"]) == ("fail", True)

    rebuilt = dbt_build(url, selection, tmp_path / "dbt-rebuilt", full_refresh=True)
    assert (rebuilt[STATUS_VALUES]["status"], REWRITTEN in rebuilt[STATUS_VALUES]["compiled_code"]) == ("pass", False)
    passed = dbt_build(url, selection, tmp_path / "dbt-passed")
    assert (passed[STATUS_VALUES]["status"], REWRITTEN in passed[STATUS_VALUES]["compiled_code"]) == ("pass", True)
    # what the pass recorded leaves out every row written before the test read the table: none since
    [(new_rows, rows)] = query(
        url,
        f"select count(*) filter (where age(t.xmin) <= age(xid(kept.tested_since))), count(*)"
        f" from intermediate.{STATUSES} as t"
        " inner join intermediate.tested_rows as kept on kept.table_oid = t.tableoid where kept.test like %s",
        f"test.tealeaves.{STATUS_VALUES}.%",
    )
    assert (new_rows, rows > 100) == (0, True)
