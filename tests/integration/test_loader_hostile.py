"""Hostile and broken inputs, as an attacker or a clumsy export would send them: one line, nothing lost.

Each case asserts what docs/sources.md promises: rows in = loaded + rejected, a rejected record keeps its
text and reason, a file that cannot be read at all is a `failed` ledger line naming the file, and `tealeaves
load` says so in one line per file (never a traceback). A load that dies leaves a `failed` line too.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tealeaves.load import load_paths
from tealeaves.load.readers import MAX_JSON_DEPTH
from tests.conftest import TEALEAVES, free_port
from tests.crm_companies import HEADER
from tests.warehouse import kill_caught_load, load_caught_at_its_lock, query


def company(number: int) -> str:
    return f"{number},Acme {number},acme{number}.com,2025-01-02T10:00:00Z,customer,PAID_SEARCH,saas,40,US"


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def cli(url: str, cli_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**cli_env, "TEALEAVES_DATABASE_URL": url}
    return subprocess.run([TEALEAVES, *args], env=env, capture_output=True, text=True, timeout=180)


def ledger(url: str) -> list[tuple]:
    return query(
        url, "select status, rows_in, rows_loaded, rows_rejected, error from raw.load_batches order by batch_id"
    )


def drop_raw(url: str) -> None:
    """An empty raw schema for the next example: the ledger's revision goes with it, so the next load remakes it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema if exists raw cascade")
        conn.execute("drop schema if exists tealeaves cascade")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


INVOICE = {
    "id": "in_1",
    "customer": "cus_1",
    "status": "paid",
    "currency": "usd",
    "amount_due": 100,
    "amount_paid": 100,
    "created": 1735700000,
}


# -- CSV ----------------------------------------------------------------------------------------------------
def test_csv_with_bare_cr_line_endings_loads_with_its_line_numbers(tmp_path, fresh_database):
    """Classic Mac and some spreadsheet exports end lines with CR alone; both CSV readers accept that."""
    path = write(tmp_path / "crm" / "companies.csv", "\r".join([HEADER, company(1), company(2), "3,short"]).encode())
    [result] = load_paths(fresh_database, [path], strict=False)
    assert (result.status, result.rows_in, result.rows_loaded, result.rows_rejected) == ("loaded", 3, 2, 1)
    assert query(fresh_database, "select hs_object_id, _source_line from raw.crm_companies order by 1") == [
        (1, 2),
        (2, 3),
    ]
    assert query(fresh_database, "select line_number, raw_text from raw.rejected_rows") == [(4, "3,short")]


def test_a_50_mb_header_fails_the_file_in_one_line(tmp_path, fresh_database, cli_env):
    path = write(tmp_path / "crm" / "companies.csv", b"x," * (25 << 20) + b"\n" + company(1).encode() + b"\n")
    run = cli(fresh_database, cli_env, "load", str(path))
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("failed:") and "companies.csv" in line and "4 MiB" in line and len(line) < 300
    [(status, rows_in, _, _, error)] = ledger(fresh_database)
    assert (status, rows_in) == ("failed", None) and "header" in error


def test_a_header_of_many_unknown_columns_gives_a_short_message(tmp_path, fresh_database):
    path = write(tmp_path / "crm" / "companies.csv", (",".join(f"col{i}" for i in range(100_000)) + "\n").encode())
    [result] = load_paths(fresh_database, [path], strict=False)
    assert result.status == "failed" and "unknown column(s)" in result.error
    assert "and 99995 more" in result.error and len(result.error) < 1000


def test_a_50_mb_row_is_quarantined_whole_and_the_rest_loads(tmp_path, fresh_database):
    huge = b"y" * (50 << 20)
    path = write(
        tmp_path / "crm" / "companies.csv",
        b"\n".join([HEADER.encode(), company(1).encode(), huge, company(3).encode()]) + b"\n",
    )
    [result] = load_paths(fresh_database, [path], strict=False)
    assert (result.status, result.rows_in, result.rows_loaded, result.rows_rejected) == ("loaded", 3, 2, 1)
    [(line, length, reason)] = query(
        fresh_database, "select line_number, length(raw_text), reason from raw.rejected_rows"
    )
    assert (line, length) == (3, len(huge)), "the whole row is kept, not a truncated copy"
    assert "longer than 16 MiB" in reason


# -- Qualtrics: the label row under the header may span lines -----------------------------------------------
QUALTRICS_COLUMNS = "StartDate,EndDate,Status,Progress,Finished,RecordedDate,ResponseId,Q1"
QUALTRICS_LABELS = '"Start\nDate","End Date","Response Type",Progress,Finished,"Recorded\r\nDate","Response ID",Q1'
QUALTRICS_IMPORT_IDS = '"{""ImportId"":""startDate""}",,,,,,,'


def qualtrics(rows: list[str]) -> bytes:
    return "\n".join([QUALTRICS_COLUMNS, QUALTRICS_LABELS, QUALTRICS_IMPORT_IDS, *rows, ""]).encode()


def response(number: int) -> str:
    return f"2025-03-0{number} 10:00:00,2025-03-0{number} 10:05:00,0,100,1,2025-03-0{number} 10:05:01,R_{number},9"


@pytest.mark.parametrize("broken", [False, True], ids=["fast path", "exact path"])
def test_a_multi_line_label_row_is_one_record_on_both_paths(tmp_path, fresh_database, broken):
    """The label row spans three physical lines; the records are counted, and numbered, as CSV records."""
    rows = [response(1), response(2), response(3)] + (["R_short,1"] if broken else [])
    path = write(tmp_path / "survey" / "nps_responses.csv", qualtrics(rows))
    [result] = load_paths(fresh_database, [path], strict=False)
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (3 + broken, 3, int(broken))
    # header: line 1; label row: lines 2-4; import ids: line 5; responses from line 6
    assert query(fresh_database, "select responseid, _source_line from raw.survey_nps_responses order by 2") == [
        ("R_1", 6),
        ("R_2", 7),
        ("R_3", 8),
    ]
    if broken:
        assert query(fresh_database, "select line_number, raw_text from raw.rejected_rows") == [(9, "R_short,1")]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ending=st.sampled_from(["\n", "\r\n", "\r"]),
    label_break=st.sampled_from(["", "\n", "\r\n", "\r"]),
    bad_rows=st.lists(st.integers(min_value=0, max_value=3), max_size=3),
    trailing=st.booleans(),
)
def test_line_endings_and_label_breaks_never_change_the_count(
    tmp_path_factory, fresh_database, ending, label_break, bad_rows, trailing
):
    """Any line ending, any break inside the quoted label: every response is a record, numbered alike."""
    labels = f'"Start{label_break}Date",End,Status,Progress,Finished,Recorded,Id,Q1'
    rows = [response(n) for n in range(1, 4)]
    for position in sorted(bad_rows, reverse=True):
        rows.insert(position, "R_bad,1")
    text = ending.join([QUALTRICS_COLUMNS, labels, QUALTRICS_IMPORT_IDS, *rows]) + (ending if trailing else "")
    path = write(tmp_path_factory.mktemp("q") / "survey" / "nps_responses.csv", text.encode())
    drop_raw(fresh_database)  # examples repeat content; each loads afresh
    [result] = load_paths(fresh_database, [path], strict=False)
    assert result.status == "loaded", result.error
    batch = result.batch_id
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (3 + len(bad_rows), 3, len(bad_rows))
    first = 4 + (label_break != "")  # header, label row (one or two lines), import ids
    lines = query(
        fresh_database,
        "select _source_line from raw.survey_nps_responses where _batch_id = %s order by 1",
        batch,
    ) + query(fresh_database, "select line_number from raw.rejected_rows where batch_id = %s", batch)
    assert sorted(line for (line,) in lines) == list(range(first, first + len(rows)))


# -- JSON ---------------------------------------------------------------------------------------------------
def test_a_json_document_nested_100_000_deep_fails_the_file_in_one_line(tmp_path, fresh_database):
    text = '{"sla_policies": [' + nested(100_000) + "]}"
    path = write(tmp_path / "support" / "sla_policies.json", text.encode())
    [result] = load_paths(fresh_database, [path], strict=False)
    assert result.status == "failed" and "sla_policies.json" in result.error and "nested deeper" in result.error
    assert ledger(fresh_database) == [("failed", None, None, None, result.error)]


def test_a_json_lines_record_nested_100_000_deep_is_quarantined(tmp_path, fresh_database):
    deep = json.dumps({**INVOICE, "id": "in_2"})[:-1] + ', "lines": ' + nested(100_000) + "}"
    path = write(tmp_path / "billing" / "invoices.jsonl", (json.dumps(INVOICE) + "\n" + deep + "\n").encode())
    [result] = load_paths(fresh_database, [path], strict=False)
    assert (result.status, result.rows_in, result.rows_loaded, result.rows_rejected) == ("loaded", 2, 1, 1)
    assert query(fresh_database, "select line_number, length(raw_text), reason from raw.rejected_rows") == [
        (2, len(deep), f"nested deeper than {MAX_JSON_DEPTH} levels")
    ]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    depth=st.integers(min_value=1, max_value=3 * MAX_JSON_DEPTH),
    brackets_in_strings=st.integers(min_value=0, max_value=2 * MAX_JSON_DEPTH),
    where=st.sampled_from(["metadata", "discount"]),
)
def test_nesting_is_judged_by_depth_not_by_brackets_in_strings(
    tmp_path_factory, fresh_database, depth, brackets_in_strings, where
):
    """Loaded up to the documented depth, quarantined beyond it; brackets inside strings never count."""
    value = "[" * depth + json.dumps("[{" * brackets_in_strings) + "]" * depth
    record = json.dumps(INVOICE)[:-1] + f', "{where}": {value}}}'
    path = write(tmp_path_factory.mktemp("j") / "billing" / "invoices.jsonl", (record + "\n").encode())
    drop_raw(fresh_database)  # examples repeat content; each loads afresh
    [result] = load_paths(fresh_database, [path], strict=False)
    too_deep = depth + 1 > MAX_JSON_DEPTH  # the record's own object is one level
    assert (result.status, result.rows_in, result.rows_loaded) == ("loaded", 1, int(not too_deep))


# -- the warehouse goes away --------------------------------------------------------------------------------
def test_load_with_the_server_down_is_one_line(tmp_path, cli_env):
    path = write(tmp_path / "crm" / "companies.csv", f"{HEADER}\n{company(1)}\n".encode())
    down = f"postgresql://tealeaves:secret@127.0.0.1:{free_port()}/tealeaves"
    run = cli(down, cli_env, "load", str(path))
    assert run.returncode != 0
    assert "Traceback" not in run.stderr + run.stdout
    [line] = run.stderr.strip().splitlines()
    assert "127.0.0.1" in line and "secret" not in line


def test_a_killed_load_leaves_a_failed_line_and_loading_again_recovers(tmp_path, fresh_database, cli_env):
    path = write(tmp_path / "crm" / "companies.csv", f"{HEADER}\n{company(1)}\n".encode())
    holder, process, _ = load_caught_at_its_lock(fresh_database, cli_env, path, "crm_companies")
    kill_caught_load(fresh_database, holder, process)
    assert [row[0] for row in ledger(fresh_database)] == ["loading"], "the attempt is on the ledger at once"
    run = cli(fresh_database, cli_env, "load", str(path))
    assert run.returncode == 0, run.stderr
    rows = query(fresh_database, "select status, rows_loaded, error from raw.load_batches order by batch_id")
    assert [(status, loaded) for status, loaded, _ in rows] == [("failed", None), ("loaded", 1)]
    assert "stopped before it finished" in rows[0][2]
    assert query(fresh_database, "select count(*) from raw.crm_companies") == [(1,)]


def test_losing_the_server_mid_load_is_one_line_naming_the_file(tmp_path, fresh_database, cli_env):
    path = write(tmp_path / "crm" / "companies.csv", f"{HEADER}\n{company(1)}\n".encode())
    holder, process, loader_pid = load_caught_at_its_lock(fresh_database, cli_env, path, "crm_companies")
    holder.execute("select pg_terminate_backend(%s)", [loader_pid])
    stdout, stderr = process.communicate(timeout=60)
    holder.execute("rollback")
    holder.close()
    assert process.returncode == 1
    assert "Traceback" not in stdout + stderr
    [line] = stderr.strip().splitlines()
    assert "companies.csv" in line and "lost the warehouse" in line
    assert query(fresh_database, "select count(*) from raw.crm_companies") == [(0,)]
    load_paths(fresh_database, [path])  # the next load marks the attempt failed, then loads
    assert [row[0] for row in ledger(fresh_database)] == ["failed", "loaded"]


def test_a_ledger_made_before_loading_lines_existed_takes_them(tmp_path, fresh_database):
    """Warehouses built by earlier versions have a status check without 'loading'; the loader widens it."""
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(
            "create schema raw; create table raw.load_batches (batch_id bigserial primary key, source text not null,"
            " entity text not null, file_name text not null, file_path text not null, content_hash text not null,"
            " rows_in bigint, rows_loaded bigint, rows_rejected bigint, started_at timestamptz not null,"
            " finished_at timestamptz, status text not null check (status in ('loaded', 'failed')), error text)"
        )
    path = write(tmp_path / "crm" / "companies.csv", f"{HEADER}\n{company(1)}\n".encode())
    [result] = load_paths(fresh_database, [path])
    assert result.status == "loaded"
    [(definition,)] = query(
        fresh_database,
        "select pg_get_constraintdef(oid) from pg_constraint where conrelid = 'raw.load_batches'::regclass"
        " and contype = 'c' and pg_get_constraintdef(oid) like '%status%'",
    )
    assert "'loading'" in definition


def test_a_file_that_cannot_be_read_is_a_failed_line_not_a_traceback(tmp_path, fresh_database, cli_env):
    """A read error from the disk (here /proc/self/mem, a regular file whose first read fails with EIO)."""
    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "companies.csv").symlink_to("/proc/self/mem")
    run = cli(fresh_database, cli_env, "load", str(tmp_path))
    assert run.returncode == 1 and "Traceback" not in run.stderr + run.stdout
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("failed:") and "cannot be read (Input/output error)" in line  # names the target
    assert [row[0] for row in ledger(fresh_database)] == ["failed"]
