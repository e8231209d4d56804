"""The loader on real PostgreSQL: nothing is lost, nothing is loaded twice, a broken file leaves no trace."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tealeaves import sources
from tealeaves.load import LoadError, load_paths
from tealeaves.load.ddl import ensure_raw_schema
from tests.crm_companies import HEADER_LINE as HEADER
from tests.warehouse import query


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def test_every_row_is_loaded_or_rejected_with_line_and_reason(tmp_path, fresh_database):
    companies = write(
        tmp_path / "crm" / "companies.csv",
        HEADER
        + "1,Acme,acme.com,2025-01-02T10:00:00Z,customer,PAID_SEARCH,saas,40,US\n"
        + "two,Bad id,bad.com,2025-01-02T10:00:00Z,lead,PAID_SEARCH,saas,40,US\n"
        + "3,Short row\n"
        + "4,,nodate.com,yesterday,lead,,saas,,US\n"
        + "5,Fine,fine.com,2025-01-03T10:00:00+02:00,lead,REFERRALS,saas,,DE\n",
    )
    [result] = load_paths(fresh_database, [companies])
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (4 + 1, 2, 3)
    rejected = query(fresh_database, "select line_number, raw_text, reason from raw.rejected_rows order by 1")
    assert [r[0] for r in rejected] == [3, 4, 5]
    assert "hs_object_id: 'two' is not a valid bigint" in rejected[0][2]
    assert rejected[1] == (4, "3,Short row", "expected 9 fields as in the header, found 2")
    assert "name: required value is missing" in rejected[2][2] and "createdate: 'yesterday'" in rejected[2][2]
    loaded = query(fresh_database, "select hs_object_id, createdate, _source_line from raw.crm_companies order by 1")
    assert [(r[0], r[2]) for r in loaded] == [(1, 2), (5, 6)]
    assert loaded[1][1] == datetime(2025, 1, 3, 8, tzinfo=UTC), "offsets are kept as real instants"
    ledger = query(fresh_database, "select rows_in, rows_loaded, rows_rejected, status from raw.load_batches")
    assert ledger == [(5, 2, 3, "loaded")]


def test_a_time_without_an_offset_is_a_utc_instant_whatever_the_databases_zone(tmp_path, fresh_database):
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        name = sql.Identifier(conn.info.dbname)
        conn.execute(sql.SQL("alter database {} set timezone to 'Asia/Kolkata'").format(name))
    assert query(fresh_database, "select current_setting('TimeZone')") == [("Asia/Kolkata",)]
    companies = write(
        tmp_path / "crm" / "companies.csv",
        HEADER
        + "1,Acme,acme.com,2025-01-02 10:00:00,customer,PAID_SEARCH,saas,40,US\n"
        + "2,Other,other.com,2025-01-02T10:00:00+05:30,lead,REFERRALS,saas,,IN\n",
    )

    ticket = {"id": 1, "created_at": "2025-01-02 10:00:00", "status": "open", "requester_id": 7}
    tickets = write(tmp_path / "support" / "tickets.jsonl", json.dumps(ticket) + "\n")

    results = load_paths(fresh_database, [companies, tickets])

    assert [(r.rows_loaded, r.rows_rejected) for r in results] == [(2, 0), (1, 0)]
    loaded = query(fresh_database, "select hs_object_id, createdate from raw.crm_companies order by 1")
    assert loaded == [(1, datetime(2025, 1, 2, 10, tzinfo=UTC)), (2, datetime(2025, 1, 2, 4, 30, tzinfo=UTC))]
    assert query(fresh_database, "select created_at from raw.support_tickets") == [
        (datetime(2025, 1, 2, 10, tzinfo=UTC),)
    ]


def test_loading_the_same_content_twice_is_a_no_op(tmp_path, fresh_database):
    invoices = write(
        tmp_path / "billing" / "invoices.jsonl",
        "\n".join(
            json.dumps(
                {
                    "id": f"in_{i}",
                    "customer": "cus_1",
                    "status": "paid",
                    "currency": "usd",
                    "amount_due": 100,
                    "amount_paid": 100,
                    "created": 1735700000 + i,
                }
            )
            for i in range(3)
        )
        + "\n{not json\n[1,2]\n",
    )
    first = load_paths(fresh_database, [invoices.parent])
    copy = write(tmp_path / "elsewhere" / "invoices.jsonl", invoices.read_text())
    second = load_paths(fresh_database, [copy])
    assert [(r.status, r.rows_loaded, r.rows_rejected) for r in first] == [("loaded", 3, 2)]
    assert [r.status for r in second] == ["unchanged"]
    assert query(fresh_database, "select count(*) from raw.billing_invoices") == [(3,)]
    assert query(fresh_database, "select reason from raw.rejected_rows order by line_number") == [
        ("not a valid JSON object",),
        ("not a JSON object",),
    ]


def test_a_file_that_cannot_be_read_leaves_nothing_but_a_failed_ledger_line(tmp_path, fresh_database):
    good = write(tmp_path / "ok" / "companies.csv", HEADER + "1,Acme,acme.com,2025-01-02T10:00:00Z,,,,,\n")
    load_paths(fresh_database, [good])
    broken = write(
        tmp_path / "bad" / "companies.csv",
        HEADER + "2,Caf\u00e9,cafe.fr,2025-01-02T10:00:00Z,,,,,\n",
        encoding="latin-1",
    )
    with pytest.raises(LoadError, match="not valid UTF-8"):
        load_paths(fresh_database, [broken])
    assert query(fresh_database, "select count(*) from raw.crm_companies") == [(1,)]
    assert query(fresh_database, "select status from raw.load_batches order by batch_id") == [
        ("loaded",),
        ("failed",),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("hs_object_id,name,createdate,secret_column\n", "unknown column(s) ['secret_column']"),
        ("hs_object_id,domain\n", "required column(s) ['name', 'createdate'] missing"),
    ],
)
def test_bad_files_fail_with_the_file_and_column_named(tmp_path, fresh_database, content, message):
    path = write(tmp_path / "crm" / "companies.csv", content)
    with pytest.raises(LoadError) as error:
        load_paths(fresh_database, [path])
    assert message in str(error.value) and str(path) in str(error.value)


def test_unknown_file_names_and_sources_are_refused(tmp_path, fresh_database):
    stray = write(tmp_path / "notes.csv", "a\n1\n")
    with pytest.raises(LoadError, match="no source contract for a file named 'notes.csv'"):
        load_paths(fresh_database, [stray])
    with pytest.raises(LoadError, match="unknown source 'erp'"):
        load_paths(fresh_database, [tmp_path], source="erp")


def test_a_json_document_loads_its_records_array(tmp_path, fresh_database):
    from tealeaves.load.loader import load_file
    from tealeaves.sources import Contract

    contract = Contract(
        source="demo",
        entity="policies",
        description="test",
        file="policies.json",
        format="json",
        records="policies",
        key=["id"],
        columns=[{"name": "id", "type": "bigint", "required": True}, {"name": "title", "type": "text"}],
    )
    path = write(tmp_path / "policies.json", json.dumps({"policies": [{"id": 1, "title": "a"}, {"id": "x"}, 7]}))
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        result = load_file(conn, path, contract)
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (3, 1, 2)
    assert query(fresh_database, "select line_number, reason from raw.rejected_rows order by 1") == [
        (2, "id: 'x' is not a valid bigint"),
        (3, "not a JSON object"),
    ]
    broken = write(tmp_path / "broken" / "policies.json", '{"policies": [')
    with psycopg.connect(fresh_database, autocommit=True) as conn, pytest.raises(LoadError, match="not valid JSON"):
        load_file(conn, broken, contract)


def test_extra_header_lines_are_skipped_not_counted(tmp_path, fresh_database):
    from tealeaves.load.loader import load_file
    from tealeaves.sources import Contract

    contract = Contract(
        source="demo",
        entity="answers",
        description="test",
        file="answers.csv",
        format="csv",
        skip_lines_after_header=2,
        key=["id"],
        columns=[{"name": "id", "type": "bigint", "required": True}, {"name": "score", "type": "integer"}],
    )
    path = write(
        tmp_path / "answers.csv",
        'id,score\n"Response ID","How likely..."\n{"ImportId":"x"},{"ImportId":"q1"}\n1,9\n2,x\n',
    )
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        result = load_file(conn, path, contract)
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (2, 1, 1)
    assert query(fresh_database, "select line_number from raw.rejected_rows") == [(5,)]


def test_well_shaped_files_take_the_copy_path_and_still_keep_each_bad_rows_text(tmp_path, fresh_database):
    from tealeaves.load.loader import _stage_csv_fast
    from tealeaves.sources import contracts

    contract = contracts()[("crm", "companies")]
    path = write(
        tmp_path / "crm" / "companies.csv",
        HEADER
        + '1,"Acme, Inc.",acme.com,2025-01-02T10:00:00Z,customer,PAID_SEARCH,saas,40,US\n'
        + "2,Beta,beta.com,now,lead,,saas,12,US\n",
    )
    with psycopg.connect(fresh_database) as conn:
        assert _stage_csv_fast(conn, path, contract), "a file PostgreSQL's CSV parser accepts needs no Python parsing"
    [result] = load_paths(fresh_database, [path])
    assert (result.rows_loaded, result.rows_rejected) == (1, 1)
    assert query(fresh_database, "select line_number, raw_text, reason from raw.rejected_rows") == [
        (3, "2,Beta,beta.com,now,lead,,saas,12,US", "createdate: 'now' is not a valid timestamptz")
    ]
    assert query(fresh_database, "select name, _source_line from raw.crm_companies") == [("Acme, Inc.", 2)]


@pytest.mark.parametrize("content", ["", "\n\n", "\ufeff"], ids=["zero bytes", "blank lines", "byte-order mark"])
def test_an_empty_export_is_a_zero_row_batch(tmp_path, fresh_database, content):
    path = write(tmp_path / "crm" / "companies.csv", content)
    [result] = load_paths(fresh_database, [path])
    assert (result.status, result.rows_in, result.rows_loaded, result.rows_rejected) == ("loaded", 0, 0, 0)
    assert query(fresh_database, "select status, rows_in from raw.load_batches") == [("loaded", 0)]


def test_a_bad_file_does_not_stop_the_other_files_of_the_folder(tmp_path, fresh_database):
    """companies.csv is tried before companies__late.csv (name order), and its failure does not stop the late file."""
    good = "1,Acme,acme.com,2025-01-02T10:00:00Z,customer,PAID_SEARCH,saas,40,US\n"
    write(tmp_path / "crm" / "campaigns.csv", "")
    write(tmp_path / "crm" / "companies.csv", "hs_object_id,secret_column\n1,x\n")
    write(tmp_path / "crm" / "companies__late.csv", HEADER + good)
    results = load_paths(fresh_database, [tmp_path], strict=False)
    by_file = {r.file.name: r for r in results}
    assert by_file["campaigns.csv"].status == "loaded" and by_file["campaigns.csv"].rows_in == 0
    assert by_file["companies.csv"].status == "failed"
    assert "companies.csv" in by_file["companies.csv"].error and "secret_column" in by_file["companies.csv"].error
    assert by_file["companies__late.csv"].status == "loaded" and by_file["companies__late.csv"].rows_loaded == 1
    ledger = query(fresh_database, "select file_name, status from raw.load_batches order by batch_id")
    assert sorted(ledger) == [
        ("campaigns.csv", "loaded"),
        ("companies.csv", "failed"),
        ("companies__late.csv", "loaded"),
    ]

    with pytest.raises(LoadError, match="companies.csv: unknown column"):
        load_paths(fresh_database, [tmp_path])  # strict: raised once every other file has been tried


@contextmanager
def _loading_while_held(url: str, folder: Path, table: str, until_loaded: str):
    """`load_paths(folder)` with two workers, in a thread, while the test holds `table`'s load lock (the key
    load_file waits on); entered once an `until_loaded` file has loaded (failing after 120 s). On leaving, the lock
    is let go and the load waited for. Yields the list its results are put in."""
    results: list = []
    with psycopg.connect(url, autocommit=True) as holder:
        ensure_raw_schema(holder)  # the ledger, polled below
        holder.execute("select pg_advisory_lock(hashtext(%s))", [table])
        loading = threading.Thread(target=lambda: results.extend(load_paths(url, [folder], workers=2)))
        loading.start()
        try:
            deadline = time.monotonic() + 120
            while not query(url, "select from raw.load_batches where entity = %s and status = 'loaded'", until_loaded):
                assert time.monotonic() < deadline, f"no {until_loaded} file loaded in 120 s"
                time.sleep(0.05)
            yield results
        finally:
            holder.execute("select pg_advisory_unlock(hashtext(%s))", [table])
            loading.join(60)


def test_two_raw_tables_load_at_once_and_each_tables_files_in_their_order(tmp_path, fresh_database):
    """While companies' load waits on its table (the test holds the loader's per-table lock), contacts loads on
    the second connection; companies.csv then loads before companies__late.csv, whose row supersedes it."""
    write(tmp_path / "crm" / "companies.csv", HEADER + "1,Acme,acme.com,2025-01-02T10:00:00Z,customer,,,40,US\n")
    write(tmp_path / "crm" / "companies__late.csv", HEADER + "1,Acme Inc,acme.com,2025-01-02T10:00:00Z,,,,41,US\n")
    write(
        tmp_path / "crm" / "contacts.csv",
        "hs_object_id,firstname,lastname,email,associatedcompanyid,createdate,lifecyclestage\n"
        "7,Ada,Byron,ada@acme.com,1,2025-01-02T10:00:00Z,customer\n",
    )
    with _loading_while_held(fresh_database, tmp_path, "crm_companies", until_loaded="contacts") as results:
        while_waiting = query(fresh_database, "select file_name, status from raw.load_batches order by file_name")
    assert while_waiting == [
        ("companies.csv", "loading"),
        ("companies__late.csv", "loading"),  # queued behind it
        ("contacts.csv", "loaded"),
    ], "one table waits, not both"
    assert [r.file.name for r in results] == ["companies.csv", "companies__late.csv", "contacts.csv"]
    assert all(r.status == "loaded" and r.rows_loaded == 1 for r in results)
    assert query(
        fresh_database, "select file_name from raw.load_batches where entity = 'companies' order by batch_id"
    ) == [
        ("companies.csv",),
        ("companies__late.csv",),
    ]


def test_batch_ids_follow_the_files_order_whichever_worker_loads_first(tmp_path, fresh_database):
    """Staging keeps a record's copy from the newest batch, across raw tables too (a Stripe line item flat in
    invoice_line_items.jsonl and nested in invoices.jsonl): batch ids must follow the order of the files, not of
    the workers. Two workers, three tables, largest first: invoices and customers start; customers waits on its
    table (the test holds its lock), so invoices, then the line items load on the first worker, the line items
    last. Meanwhile another load runs, and must not take the waiting load's queued lines (customers__late.jsonl, no
    worker's yet) for a dead load's."""
    line = {"id": "il_1", "invoice": "in_1", "amount": 1000, "currency": "usd"}
    invoice = {"id": "in_1", "customer": "cus_1", "status": "paid", "currency": "usd", "amount_due": 1200}
    invoice |= {"amount_paid": 1200, "created": 1735776000, "lines": {"data": [dict(line, amount=1200)]}}
    customers = [{"id": f"cus_{n}", "created": 1735776000} for n in range(3)]
    files = {
        "invoice_line_items.jsonl": json.dumps(line) + "\n",
        "invoices.jsonl": json.dumps(invoice) + "\n",
        "customers.jsonl": "".join(json.dumps(c) + "\n" for c in customers[:2]),
        "customers__late.jsonl": json.dumps(customers[2]) + "\n",  # queued behind customers.jsonl, not started
    }
    for name, text in files.items():
        write(tmp_path / "billing" / name, text)
    sizes = [len(files["invoices.jsonl"]), len(files["customers.jsonl"] + files["customers__late.jsonl"])]
    assert sorted([*sizes, len(files["invoice_line_items.jsonl"])], reverse=True)[:2] == sizes, "largest first"
    other = write(tmp_path / "other" / "crm" / "companies.csv", HEADER + "1,Acme,acme.com,2025-01-02T10:00:00Z,,,,,\n")
    with _loading_while_held(
        fresh_database, tmp_path / "billing", "billing_customers", until_loaded="invoice_line_items"
    ) as results:
        [another] = load_paths(fresh_database, [other])  # marks a dead load's lines failed, and only those
        while_waiting = query(fresh_database, "select file_name, status from raw.load_batches order by batch_id")
    assert another.status == "loaded"
    assert while_waiting == [
        ("customers.jsonl", "loading"),
        ("customers__late.jsonl", "loading"),
        ("invoice_line_items.jsonl", "loaded"),
        ("invoices.jsonl", "loaded"),
        ("companies.csv", "loaded"),
    ]
    assert [(r.file.name, r.status, r.rows_loaded) for r in results] == [
        ("customers.jsonl", "loaded", 2),
        ("customers__late.jsonl", "loaded", 1),
        ("invoice_line_items.jsonl", "loaded", 1),
        ("invoices.jsonl", "loaded", 1),
    ]
    finished = query(
        fresh_database, "select file_name from raw.load_batches where source = 'billing' order by finished_at"
    )
    assert finished == [
        ("invoices.jsonl",),
        ("invoice_line_items.jsonl",),
        ("customers.jsonl",),
        ("customers__late.jsonl",),
    ], "in that order"


def test_a_plan_longer_than_one_queue_loads_in_queues_in_the_files_order(tmp_path, fresh_database, monkeypatch):
    """Each queued ledger line holds an entry of PostgreSQL's shared lock table, so a long plan is queued a part at a
    time (QUEUE_LENGTH files; 2 here): every file still loads, the batch ids still follow the files' order."""
    from tealeaves.load import loader

    monkeypatch.setattr(loader, "QUEUE_LENGTH", 2)
    names = ["companies.csv", *(f"companies__{n}.csv" for n in range(1, 4)), "contacts.csv"]
    for n, name in enumerate(names[:4]):
        write(tmp_path / "crm" / name, HEADER + f"{n},Co {n},co{n}.com,2025-01-02T10:00:00Z,,,,,US\n")
    write(
        tmp_path / "crm" / "contacts.csv",
        "hs_object_id,firstname,lastname,email,associatedcompanyid,createdate,lifecyclestage\n"
        "7,Ada,Byron,ada@acme.com,1,2025-01-02T10:00:00Z,customer\n",
    )
    results = load_paths(fresh_database, [tmp_path], workers=2)
    assert [(r.file.name, r.status) for r in results] == [(name, "loaded") for name in names]
    assert query(fresh_database, "select file_name from raw.load_batches order by batch_id") == [(n,) for n in names]


def test_a_folder_of_source_folders_loads_and_absent_sources_still_get_empty_raw_tables(tmp_path, fresh_database):
    write(tmp_path / "exports" / "crm" / "companies.csv", HEADER + "1,Acme,acme.com,2025-01-02T10:00:00Z,,,,,US\n")
    [result] = load_paths(fresh_database, [tmp_path / "exports"])
    assert (result.source, result.rows_loaded) == ("crm", 1)
    from tealeaves import sources

    tables = {
        r[0]
        for r in query(fresh_database, "select table_name from information_schema.tables where table_schema = 'raw'")
    }
    assert {c.table for c in sources.contracts().values()} <= tables
    assert query(fresh_database, "select count(*) from raw.billing_invoices") == [(0,)]


def test_a_raw_table_from_an_older_contract_gains_the_new_column_and_keeps_its_rows(tmp_path, fresh_database):
    """A raw table made before its contract grew a column, and before issue 15 dropped the per-row key to the
    ledger (so in a warehouse from before versioned revisions): the next load adds the column and drops the key,
    and the rows already there stay as they were."""
    first = write(tmp_path / "crm" / "companies.csv", HEADER + "1,Acme,acme.com,2025-01-02T10:00:00Z,,,,,\n")
    load_paths(fresh_database, [first])
    with psycopg.connect(fresh_database) as conn:
        conn.execute("alter table raw.crm_companies drop column hs_additional_domains")
        conn.execute("alter table raw.crm_companies add foreign key (_batch_id) references raw.load_batches")
        conn.execute("drop schema tealeaves cascade")  # the revision record, which that code did not keep
    second = write(
        tmp_path / "crm" / "companies_2.csv",
        HEADER.rstrip("\n")
        + ",hs_additional_domains\n"
        + "2,Beta,beta.com,2025-01-03T10:00:00Z,,,,,,beta.net;beta.org\n",
    )
    [result] = load_paths(fresh_database, [second])
    assert (result.status, result.rows_loaded) == ("loaded", 1)
    rows = query(fresh_database, "select hs_object_id, hs_additional_domains from raw.crm_companies order by 1")
    assert rows == [(1, None), (2, "beta.net;beta.org")]
    keys = "select count(*) from pg_constraint where conrelid = 'raw.crm_companies'::regclass and contype = 'f'"
    assert query(fresh_database, keys) == [(0,)]


def test_every_raw_table_has_a_block_range_index_on_its_batch_even_one_made_before_it(tmp_path, fresh_database):
    """dbt's daily runs read a raw table's newest batches through a BRIN index on _batch_id (tealeaves.load.ddl):
    a new table is made with it, and a table from before it gets it at its next load."""
    first = write(tmp_path / "crm" / "companies.csv", HEADER + "1,Acme,acme.com,2025-01-02T10:00:00Z,,,,,\n")
    load_paths(fresh_database, [first])
    indexes = "select indexdef from pg_indexes where schemaname = 'raw' and tablename = %s"
    made_with = query(fresh_database, indexes, "crm_companies")
    assert [definition for (definition,) in made_with if "USING brin (_batch_id)" in definition], made_with
    with psycopg.connect(fresh_database) as conn:
        conn.execute("drop index raw.crm_companies__by_batch")
    second = write(tmp_path / "crm" / "companies_2.csv", HEADER + "2,Beta,beta.com,2025-01-03T10:00:00Z,,,,,\n")
    [result] = load_paths(fresh_database, [second])
    assert (result.status, result.rows_loaded) == ("loaded", 1)
    given_later = query(fresh_database, indexes, "crm_companies")
    assert [definition for (definition,) in given_later if "USING brin (_batch_id)" in definition], given_later
    assert query(fresh_database, "select count(*) from raw.crm_companies") == [(2,)]


def test_each_instant_a_daily_run_looks_support_events_up_by_has_a_block_range_index_even_on_a_table_from_before(
    tmp_path, fresh_database
):
    """The daily build finds support events dated after its last as-of moment through BRIN indexes on their
    instants (tealeaves.load.ddl): every instant a contract marks `event_time` gets one, at the table's first load
    or, on a table made before, at its next; a load summarizes the pages it wrote."""
    comment = {"id": 1, "ticket_id": 7, "author_id": 3, "public": True, "created_at": "2025-01-02T10:00:00Z"}
    # pages enough for several block ranges (128 pages each): an index made on an empty table summarizes its first
    comments = [{**comment, "id": n, "body": f"reply {n} " + "x" * 100} for n in range(1, 30_001)]
    first = write(tmp_path / "support" / "ticket_comments.jsonl", "".join(json.dumps(c) + "\n" for c in comments))
    load_paths(fresh_database, [first])
    pages = "select relpages from pg_class where oid = 'raw.support_ticket_comments'::regclass"
    assert query(fresh_database, pages)[0][0] > 2 * 128
    contract = sources.contracts()[("support", "ticket_comments")]
    assert contract.event_time_columns == ["created_at"]
    brin = (
        "select indexname, indexdef from pg_indexes where schemaname = 'raw' and tablename = %s and indexdef ~ 'brin'"
    )
    made_with = dict(query(fresh_database, brin, "support_ticket_comments"))
    assert sorted(made_with) == ["support_ticket_comments__by_batch", "support_ticket_comments__by_created_at"]
    assert "USING brin (created_at)" in made_with["support_ticket_comments__by_created_at"]
    # the load summarized its pages: summarizing again finds no range left (an unsummarized one matches every query)
    for index in made_with:
        assert query(fresh_database, "select brin_summarize_new_values(%s::regclass)", f"raw.{index}") == [(0,)]
    with psycopg.connect(fresh_database) as conn:
        conn.execute("drop index raw.support_ticket_comments__by_created_at")
    later = write(tmp_path / "support" / "ticket_comments_2.jsonl", json.dumps({**comment, "id": 30_001}) + "\n")
    [result] = load_paths(fresh_database, [later])
    assert (result.status, result.rows_loaded) == ("loaded", 1)
    assert sorted(dict(query(fresh_database, brin, "support_ticket_comments"))) == sorted(made_with)
    # a table from before the instant's column: the load adds the column, then its index
    with psycopg.connect(fresh_database) as conn:
        conn.execute("alter table raw.support_ticket_comments drop column created_at")  # its index goes with it
    newest = write(tmp_path / "support" / "ticket_comments_3.jsonl", json.dumps({**comment, "id": 30_002}) + "\n")
    [result] = load_paths(fresh_database, [newest])
    assert (result.status, result.rows_loaded) == ("loaded", 1)
    assert sorted(dict(query(fresh_database, brin, "support_ticket_comments"))) == sorted(made_with)


def test_autovacuum_never_vacuums_a_raw_table_for_its_inserts_even_one_made_before_that(tmp_path, fresh_database):
    """A vacuum of an append-only raw table would send the next loads' rows into the gaps at every page's end, all
    over the table, and the BRIN index on _batch_id could no longer confine a daily read to the day's batches
    (tealeaves.load.ddl.APPEND_ONLY_OPTION): every contract's table is made with insert-triggered autovacuum off,
    and a table from before that gets it at its next load. The ledger's tables (raw.load_batches, raw.rejected_rows),
    which the warehouse's revisions make, keep autovacuum's defaults."""
    first = write(tmp_path / "crm" / "companies.csv", HEADER + "1,Acme,acme.com,2025-01-02T10:00:00Z,,,,,\n")
    load_paths(fresh_database, [first])
    options = (
        "select c.relname, 'autovacuum_vacuum_insert_threshold=-1' = any(coalesce(c.reloptions, '{}'))"
        " from pg_class as c join pg_namespace as n on n.oid = c.relnamespace"
        " where n.nspname = 'raw' and c.relkind = 'r' order by 1"
    )
    made_with = dict(query(fresh_database, options))
    contract_tables = {contract.table for contract in sources.contracts().values()}
    assert contract_tables <= set(made_with), sorted(contract_tables - set(made_with))
    assert {table for table, off in made_with.items() if off} == contract_tables, made_with
    with psycopg.connect(fresh_database) as conn:
        conn.execute("alter table raw.crm_companies reset (autovacuum_vacuum_insert_threshold)")
    assert dict(query(fresh_database, options))["crm_companies"] is False
    second = write(tmp_path / "crm" / "companies_2.csv", HEADER + "2,Beta,beta.com,2025-01-03T10:00:00Z,,,,,\n")
    [result] = load_paths(fresh_database, [second])
    assert (result.status, result.rows_loaded) == ("loaded", 1)
    assert dict(query(fresh_database, options))["crm_companies"] is True


def test_a_loaded_batch_cannot_be_deleted_or_unloaded_so_no_raw_row_loses_its_batch(tmp_path, fresh_database):
    """Raw tables have no foreign key to the ledger (issue 15); the ledger's trigger keeps what the key kept."""
    good = write(tmp_path / "crm" / "companies.csv", HEADER + "1,Acme,acme.com,2025-01-02T10:00:00Z,,,,,\n")
    [result] = load_paths(fresh_database, [good])
    for statement in (
        "delete from raw.load_batches where batch_id = %s",
        "update raw.load_batches set status = 'failed' where batch_id = %s",
        "update raw.load_batches set batch_id = batch_id + 1000 where batch_id = %s",
    ):
        with psycopg.connect(fresh_database) as conn, pytest.raises(psycopg.errors.IntegrityConstraintViolation):
            conn.execute(statement, [result.batch_id])
    with psycopg.connect(fresh_database) as conn:  # the raw gate's verdict is still recorded on a loaded batch
        conn.execute("update raw.load_batches set validation = 'passed' where batch_id = %s", [result.batch_id])
    orphans = query(
        fresh_database,
        "select _batch_id from raw.crm_companies except select batch_id from raw.load_batches where status = 'loaded'",
    )
    assert query(fresh_database, "select count(*) from raw.crm_companies") == [(1,)]
    assert orphans == []
