"""What a load leaves the planner knowing of a raw table (tealeaves.load.ddl.refresh_statistics).

The build and the raw gate read a raw table right after its load. A first load, one that grows the table by more
than a tenth, or one into a table with a column never analyzed must leave statistics of the whole table; a day's
small batch in a large table must be known by its batch id (the raw gate selects batches by id), without the cost
of analyzing the rest (issue 15: that was most of a daily load).

What the planner knows is read from `pg_stats`: the most common values of `_batch_id` (the batch ids the table
holds) and of `industry`, which every test's first file holds one value of and a later file another. Autovacuum
is off for the table after its first load: its own analyze would otherwise race the assertions.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from tealeaves.load import load_paths
from tealeaves.load.ddl import SMALL_TABLE_PAGES
from tests.crm_companies import HEADER_LINE as HEADER
from tests.warehouse import query

FIRST_ROWS = 20_000  # well over SMALL_TABLE_PAGES of rows: checked below, as the tests' premise


def export(folder: Path, name: str, first_id: int, rows: int, industry: str) -> None:
    path = folder / "crm" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (
        f"{i},Company {i},c{i}.example.com,2025-01-02T10:00:00Z,customer,PAID_SEARCH,{industry},40,US\n"
        for i in range(first_id, first_id + rows)
    )
    path.write_text(HEADER + "".join(lines), encoding="utf-8")


def load(url: str, folder: Path) -> list[int]:
    """The batch ids the load wrote."""
    return [r.batch_id for r in load_paths(url, [folder], "crm") if r.status == "loaded"]


def common_values(url: str, column: str) -> set[str]:
    found = query(
        url,
        "select most_common_vals::text from pg_stats"
        " where schemaname = 'raw' and tablename = 'crm_companies' and attname = %s",
        column,
    )
    return set(found[0][0].strip("{}").split(",")) if found and found[0][0] else set()


def first_load(url: str, folder: Path) -> int:
    export(folder, "companies.csv", 1, FIRST_ROWS, "saas")
    [batch] = load(url, folder)
    pages = query(url, "select pg_relation_size('raw.crm_companies') / current_setting('block_size')::int")[0][0]
    assert pages > 2 * SMALL_TABLE_PAGES  # a large table as the rule sees it
    # Autovacuum analyzes a table on its own once its changed rows pass a tenth, the first load's among them; here
    # it would race the assertions on what the loader left.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("alter table raw.crm_companies set (autovacuum_enabled = false)")
    return batch


def test_a_first_load_leaves_statistics_of_the_whole_table(tmp_path, fresh_database):
    batch = first_load(fresh_database, tmp_path)

    assert common_values(fresh_database, "_batch_id") == {str(batch)}
    assert common_values(fresh_database, "industry") == {"saas"}
    counted = query(fresh_database, "select reltuples::bigint from pg_class where oid = 'raw.crm_companies'::regclass")
    assert counted == [(FIRST_ROWS,)]


def test_a_small_batch_is_known_by_its_id_and_the_rest_is_left_to_autovacuum(tmp_path, fresh_database):
    first = first_load(fresh_database, tmp_path)
    export(tmp_path, "companies__next_day.csv", FIRST_ROWS + 1, 300, "fintech")  # 1.5% more rows

    [batch] = load(fresh_database, tmp_path)

    assert common_values(fresh_database, "_batch_id") == {str(first), str(batch)}
    assert common_values(fresh_database, "industry") == {"saas"}  # as the first load left it


def test_a_load_that_grows_the_table_by_more_than_a_tenth_is_analyzed_whole(tmp_path, fresh_database):
    first = first_load(fresh_database, tmp_path)
    export(tmp_path, "companies__backfill.csv", FIRST_ROWS + 1, FIRST_ROWS // 4, "fintech")

    [batch] = load(fresh_database, tmp_path)

    assert common_values(fresh_database, "_batch_id") == {str(first), str(batch)}
    assert common_values(fresh_database, "industry") == {"saas", "fintech"}


def test_a_column_without_statistics_gets_them_with_the_next_load(tmp_path, fresh_database):
    first_load(fresh_database, tmp_path)
    with psycopg.connect(fresh_database, autocommit=True) as conn:  # as a newer contract's column is added
        conn.execute("alter table raw.crm_companies add column added_later text")
    export(tmp_path, "companies__next_day.csv", FIRST_ROWS + 1, 300, "fintech")

    load(fresh_database, tmp_path)

    assert query(fresh_database, "select count(*) from pg_stats where attname = 'added_later'") == [(1,)]
    assert common_values(fresh_database, "industry") == {"saas", "fintech"}


def test_a_small_table_is_analyzed_whole_after_every_load(tmp_path, fresh_database):
    export(tmp_path, "companies.csv", 1, 200, "saas")
    load(fresh_database, tmp_path)
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("alter table raw.crm_companies set (autovacuum_enabled = false)")
    pages = query(fresh_database, "select relpages from pg_class where oid = 'raw.crm_companies'::regclass")[0][0]
    assert pages < SMALL_TABLE_PAGES
    export(tmp_path, "companies__next_day.csv", 201, 5, "fintech")  # 2.5% more rows

    load(fresh_database, tmp_path)

    assert common_values(fresh_database, "industry") == {"saas", "fintech"}
