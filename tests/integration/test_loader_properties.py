"""Property tests: whatever bytes an export holds, the loader accounts for every record and never loads twice."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tealeaves.load import LoadError, load_paths
from tests.crm_companies import HEADER

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

good_company = st.builds(
    lambda i, n, e: f"{i},{n},x.com,2025-01-0{1 + i % 9}T10:00:00Z,lead,PAID_SEARCH,saas,{e},US",
    st.integers(1, 10**12),
    st.text(alphabet="abcdefgh ", min_size=1, max_size=12).map(str.strip).filter(bool),
    st.integers(0, 10**6),
)
junk_line = st.text(alphabet=st.characters(blacklist_characters='"\r\n', blacklist_categories=["Cs"]), max_size=60)
any_line = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=60)


def batch_accounting(url: str, batch_id: int, table: str) -> tuple[int, int, list[int]]:
    with psycopg.connect(url) as conn:
        loaded_lines = [
            r[0] for r in conn.execute(f"select _source_line from raw.{table} where _batch_id = %s", [batch_id])
        ]
        rejected = conn.execute(
            "select line_number, reason from raw.rejected_rows where batch_id = %s", [batch_id]
        ).fetchall()
    assert all(reason for _, reason in rejected), "every rejected row says why"
    lines = loaded_lines + [n for n, _ in rejected]
    assert len(lines) == len(set(lines)), "no record is both loaded and rejected, or counted twice"
    return len(loaded_lines), len(rejected), lines


def load_once_then_again(url: str, path: Path):
    first = load_paths(url, [path])[0]
    again = load_paths(url, [path])[0]
    assert again.status == "unchanged" and again.rows_in == 0, "the same content never loads twice"
    return first


@PROPERTY
@given(rows=st.lists(st.one_of(good_company, junk_line), max_size=25))
def test_csv_good_rows_load_and_every_other_line_is_quarantined(tmp_path_factory, fresh_database, rows):
    path = tmp_path_factory.mktemp("csv") / "companies.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = load_once_then_again(fresh_database, path)
    if result.status == "unchanged":  # hypothesis repeated an earlier file: already accounted for
        return
    loaded, rejected, lines = batch_accounting(fresh_database, result.batch_id, "crm_companies")
    records = [r for r in rows if r.strip()]
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (len(records), loaded, rejected)
    good = sum(1 for r in records if r.count(",") == 8 and r.split(",")[0].isdigit() and r.split(",")[1].strip())
    assert loaded >= good - sum(1 for r in records if r != r.strip()), "well-formed companies are loaded"
    assert all(2 <= n <= len(rows) + 1 for n in lines), "line numbers point into the file"


@PROPERTY
@given(text=st.lists(any_line, max_size=15).map("\n".join))
def test_csv_of_arbitrary_text_fails_cleanly_or_accounts_for_every_record(tmp_path_factory, fresh_database, text):
    path = tmp_path_factory.mktemp("csvany") / "companies.csv"
    path.write_text(HEADER + "\n" + text, encoding="utf-8")
    try:
        result = load_once_then_again(fresh_database, path)
    except LoadError as error:  # the only acceptable failure: a readable message naming the file
        assert str(path) in str(error)
        return
    if result.status == "loaded":
        loaded, rejected, _ = batch_accounting(fresh_database, result.batch_id, "crm_companies")
        assert result.rows_in == loaded + rejected


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
invoice = st.fixed_dictionaries(
    {
        "id": st.text(alphabet="abcdef0123", min_size=1, max_size=10),
        "customer": st.just("cus_1"),
        "status": st.sampled_from(["paid", "open"]),
        "currency": st.just("usd"),
        "amount_due": st.integers(0, 10**9),
        "amount_paid": st.integers(0, 10**9),
        "created": st.integers(0, 2**31),
    }
).map(json.dumps)


@PROPERTY
@given(lines=st.lists(st.one_of(invoice, json_value.map(json.dumps), any_line), max_size=20))
def test_jsonl_every_non_blank_line_is_loaded_or_rejected(tmp_path_factory, fresh_database, lines):
    path = tmp_path_factory.mktemp("jsonl") / "invoices.jsonl"
    path.write_text("\n".join(line.replace("\n", " ").replace("\r", " ") for line in lines) + "\n", encoding="utf-8")
    try:
        result = load_once_then_again(fresh_database, path)
    except LoadError as error:
        assert str(path) in str(error)
        return
    if result.status == "unchanged":
        return
    loaded, rejected, _ = batch_accounting(fresh_database, result.batch_id, "billing_invoices")
    physical = path.read_text(encoding="utf-8").split("\n")
    assert result.rows_in == loaded + rejected == sum(1 for line in physical if line.strip())
