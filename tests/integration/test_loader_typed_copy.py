"""The CSV fast path writes typed rows straight into raw; every line must end as the exact path decides it.

The oracle is the exact path: Python's CSV reader and the text rules, a different parser and different checks
from the fast path's typed COPY. Each file is loaded twice, once as it is (fast path) and once with a record
that spans two lines added at its end, which no fast path takes; the lines they share must load the same
values or be rejected with the same text and reason.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tealeaves.load import load_paths
from tealeaves.load.loader import _copy_csv_typed
from tealeaves.sources import Contract, contracts
from tests.crm_companies import HEADER as COMPANIES_HEADER
from tests.warehouse import outcome, query

COMPANIES = (
    "crm/companies.csv",
    COMPANIES_HEADER,
    [
        "1, Acme ,acme.com,2025-01-02T10:00:00Z,customer,PAID_SEARCH,saas,40,US",
        "2,   ,x.com,2025-01-02T10:00:00Z,lead,,saas,1,US",
        "3,B, ,2025-01-02,lead,,saas,  ,US",
        "4,C,c.com,January 8 2025,lead,,saas,5,US",
        "5,D,d.com,epoch,lead,,saas,5,US",
        "6,E,e.com, 2025-01-02T10:00:00Z ,lead,,saas, 7 ,US",
        "7,F,f.com,\t2025-01-02,lead,,saas,\t8,US",
        "+8,G,g.com,+2025-01-02,lead,,saas,4_000,US",
        '9,"H, Inc.",h.com,2025-01-02 10:00,lead,"",saas,0x10,US',
        "1e3,I,i.com,2025-01-02,lead,,saas,1,US",
        "11,J,j.com,,lead,,saas,1,US",
        "12,K\t,k.com,2025-01-02,lead,,saas,n/a,US",
        "13,L,l.com,tomorrow,lead,,saas,,US",
        " 15,N,n.com,-infinity,lead,,saas,1,US ",
        '16,"  ",o.com,2025-01-02,lead,,saas,1,US',
        "17,P,p.com,2025-01-02,lead,,saas,-.5,US",
        '"",Q,q.com,2025-01-02,lead,,saas,1,US',
        "19,R,r.com,2025-01-02,lead,,saas,  -3  ,",
        "20,Trail ,t.com,2025-01-02 ,lead,,saas,2 ,US ",
    ],
    '99,"two\nlines",z.com,2025-01-02,lead,,saas,1,US',
)
MARKETING_SPEND = (
    "crm/marketing_spend.csv",
    "spend_date,channel,campaign_id,spend,currency",
    [
        "2025-01-02,PAID_SEARCH,c1,10.50,USD",
        "2025-01-02,PAID_SEARCH,c2,NaN,USD",
        "2025-01-02,PAID_SEARCH,c3,+.5,USD",
        "2025-01-02,PAID_SEARCH,c4,-.5,USD",
        "2025-01-02,PAID_SEARCH,c5,.5,USD",
        "2025-01-02,PAID_SEARCH,c6,Infinity,USD",
        "2025-01-02,PAID_SEARCH,c7, 1e3 ,USD",
        "Jan 3 2025,PAID_SEARCH,c8,1,USD",
        "today,PAID_SEARCH,c9,1,USD",
        "2025-01-02,PAID_SEARCH,c10,\t1.5,USD",
        "2025-01-02, ,c11,1,USD",
        "20250102,PAID_SEARCH,c12,1_000.5,USD",
        " 2025-01-02 ,PAID_SEARCH,c13,  -1 ,USD ",
        "2025-02-30,PAID_SEARCH,c14,1,USD",
        "-2025-01-02,PAID_SEARCH,c15,-inf,USD",
        "2025-01-02,PAID_SEARCH ,c16,1.5 ,USD",
    ],
    '2025-01-02,"two\nlines",c99,1,USD',
)
NPS = (
    "survey/nps_responses.csv",
    "StartDate,EndDate,Status,Progress,Finished,RecordedDate,ResponseId,Q1\nStart,End,Type,Progress,Finished,Rec,Id,Q1\n"
    '"{""ImportId"":""startDate""}",,,,,,,',
    [
        "2025-03-01 10:00:00,2025-03-01 10:05:00,0,100, true ,2025-03-01 10:05:01,R_1,9",
        "2025-03-01 10:00:00,2025-03-01 10:05:00,0, 50,yes,2025-03-01 10:05:01,R_2,9",
        "2025-03-01 10:00:00,2025-03-01 10:05:00,0,100,  ,2025-03-01 10:05:01,R_3,9",
        "2025-03-01 10:00:00,2025-03-01 10:05:00,0,100,maybe,2025-03-01 10:05:01,R_4,9",
        "2025-03-01 10:00:00,2025-03-01 10:05:00,0,100,\tf,2025-03-01 10:05:01,R_5, 10 ",
        "2025-03-01 10:00:00,2025-03-01 10:05:00,0,100,T,2025-03-01 10:05:01,R_6,",
    ],
    '2025-03-01 10:00:00,2025-03-01 10:05:00,0,100,1,"Recorded\nlater",R_99,9',
)


def takes_fast_path(url: str, path: Path, contract: Contract) -> bool:
    """Whether the typed COPY path takes the file; what it writes is rolled back."""
    with psycopg.connect(url) as conn:
        conn.execute("select")  # opens the transaction, so that the fast path's block is a savepoint in it
        taken = _copy_csv_typed(conn, path, contract, -1) is not None
        conn.rollback()
    return taken


@pytest.mark.parametrize("ending", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("export", [COMPANIES, MARKETING_SPEND, NPS], ids=["companies", "marketing_spend", "nps"])
def test_the_typed_copy_path_decides_every_line_as_the_exact_path(tmp_path, fresh_database, export, ending):
    name, header, rows, two_line_record = export
    fast = tmp_path / "fast" / name
    exact = tmp_path / "exact" / name
    for path, extra in ((fast, []), (exact, [two_line_record])):
        path.parent.mkdir(parents=True)
        lines = [header.replace("\n", ending), *rows, *extra]
        path.write_bytes((ending.join(lines) + ending).encode())
    [by_fast] = load_paths(fresh_database, [fast], strict=False)
    [by_exact] = load_paths(fresh_database, [exact], strict=False)
    contract = contracts()[tuple(name.removesuffix(".csv").split("/"))]  # type: ignore[index]
    assert takes_fast_path(fresh_database, fast, contract), "the fast path takes the file as it is"
    assert not takes_fast_path(fresh_database, exact, contract), "no fast path takes a file with a two-line record"
    last_line = header.count("\n") + 1 + len(rows)
    names = contract.column_names
    fast_outcome = outcome(fresh_database, contract.table, names, by_fast.batch_id, last_line)
    exact_outcome = outcome(fresh_database, contract.table, names, by_exact.batch_id, last_line)
    assert fast_outcome == exact_outcome
    loaded, rejected = fast_outcome
    assert loaded and rejected, "the file has lines of both kinds"
    assert (by_fast.rows_loaded, by_fast.rows_rejected) == (len(loaded), len(rejected)) and len(rows) == (
        len(loaded) + len(rejected)
    )


def test_a_value_its_type_refuses_sends_the_line_to_the_text_rules_which_may_still_load_it(tmp_path, fresh_database):
    """Spaces alone are no integer to PostgreSQL's COPY, but to the text rules they are an empty, optional value."""
    path = tmp_path / "crm" / "companies.csv"
    path.parent.mkdir()
    path.write_text(COMPANIES[1] + "\n1,A,a.com,2025-01-02,lead,,saas,   ,US\n2,B,b.com,2025-01-02,lead,,saas,n/a,US\n")
    [result] = load_paths(fresh_database, [path])
    assert (result.rows_loaded, result.rows_rejected) == (1, 1)
    assert query(fresh_database, "select hs_object_id, numberofemployees, _source_line from raw.crm_companies") == [
        (1, None, 2)
    ]
    assert query(fresh_database, "select line_number, raw_text from raw.rejected_rows") == [
        (3, "2,B,b.com,2025-01-02,lead,,saas,n/a,US")
    ]


# Values that the typed COPY and the text rules could read differently: spaces, tabs, signs, points, words that
# PostgreSQL's types accept, quoted fields, commas inside quotes; and pieces of them put together. A quote is
# only ever a whole field's: inside a field, or left open, PostgreSQL's and Python's CSV readers read it
# differently (the text fast path, too, is PostgreSQL's), and a quote left open would join the line to the
# two-line record added at the end.
TOKENS = [
    *["", " ", "  ", "\t", '""', '"  "', "x", "NaN", " NaN", "Infinity", "-inf", "now", "today", "epoch"],
    *["Jan 3 2025", "+.5", "-.5", ".5", "+5", " 1", "1 ", "\t1", "1e3", "0x1F", "1_000", '" 1"', '"1,5"'],
    *["2025-01-02", " 2025-01-02", "2025-01-02 ", '"2025-01-02"', "20250102", "-2025-01-02", '"a, b"'],
]
PIECES = ["", " ", "\t", "1", "-", "+", ".", "5", "2025-01-02", "NaN", "now"]
token = st.one_of(st.sampled_from(TOKENS), st.lists(st.sampled_from(PIECES), max_size=3).map("".join))
GOOD_SPEND = ["2025-01-02", "PAID_SEARCH", "c1", "1.5", "USD"]


def spend_row(changes: list[tuple[int, str]]) -> str:
    values = list(GOOD_SPEND)
    for column, value in changes:
        values[column] = value
    return ",".join(values)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.lists(st.tuples(st.integers(0, 4), token), min_size=1, max_size=2).map(spend_row), min_size=1, max_size=15
    )
)
def test_any_mix_of_such_values_is_decided_as_the_exact_path_decides_it(tmp_path_factory, fresh_database, rows):
    folder = tmp_path_factory.mktemp("spend")
    header, two_line_record = MARKETING_SPEND[1], MARKETING_SPEND[3]
    fast, exact = folder / "fast" / "crm" / "marketing_spend.csv", folder / "exact" / "crm" / "marketing_spend.csv"
    for path, extra in ((fast, []), (exact, [two_line_record])):
        path.parent.mkdir(parents=True)
        path.write_text("\n".join([header, *rows, *extra]) + "\n", encoding="utf-8")
    [by_fast] = load_paths(fresh_database, [fast], strict=False)
    [by_exact] = load_paths(fresh_database, [exact], strict=False)
    if by_fast.status != "loaded" or by_exact.status != "loaded":  # hypothesis repeated an earlier file
        return
    contract = contracts()[("crm", "marketing_spend")]
    last_line = 1 + len(rows)
    assert outcome(fresh_database, contract.table, contract.column_names, by_fast.batch_id, last_line) == outcome(
        fresh_database, contract.table, contract.column_names, by_exact.batch_id, last_line
    )
