"""An incremental model's grain is a unique index, not a data test that reads the whole table every day (issue 15).

macros/unique_indexes.sql: dbt creates a model's configured indexes only with its table; the post-hook makes a
unique one missing from a table built before it was declared, and rows that already share a key then fail the
run, naming the key. Oracle: the catalog (pg_index) and rows planted by hand, on int_tickets_measured (one row per
ticket, kept by delete+insert on ticket_id).
"""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import dbt_build

MODEL = "int_tickets_measured"
UNIQUE_ON_TICKET_ID = """
    select indexes.indexrelid::regclass::text
    from pg_index as indexes
    inner join pg_attribute as attributes
        on attributes.attrelid = indexes.indrelid and attributes.attnum = indexes.indkey[0]
    where
        indexes.indrelid = 'intermediate.int_tickets_measured'::regclass
        and indexes.indisunique and indexes.indnkeyatts = 1 and attributes.attname = 'ticket_id'
"""


def _unique_indexes(conn: psycopg.Connection) -> list[str]:
    return [row[0] for row in conn.execute(UNIQUE_ON_TICKET_ID)]


def test_a_missing_unique_index_is_made_and_rows_sharing_a_key_fail_the_run(pipeline, tmp_path):
    url, _, _ = pipeline("unique_indexes", f"+{MODEL}", customers=40, months=2, seed=31)
    with psycopg.connect(url, autocommit=True) as conn:
        [index] = _unique_indexes(conn)  # the first build made the declared index
        rows = conn.execute(f"select count(*) from intermediate.{MODEL}").fetchone()[0]
        assert rows > 0
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(f"insert into intermediate.{MODEL} select * from intermediate.{MODEL} limit 1")
        conn.execute(f"drop index {index}")

    # a table built before the index was declared: the next incremental run makes it, and keeps every row
    dbt_build(url, MODEL, tmp_path / "made")
    with psycopg.connect(url, autocommit=True) as conn:
        [index] = _unique_indexes(conn)
        assert conn.execute(f"select count(*) from intermediate.{MODEL}").fetchone()[0] == rows
        conn.execute(f"drop index {index}")
        [ticket_id] = conn.execute(
            f"insert into intermediate.{MODEL} select * from intermediate.{MODEL} order by ticket_id limit 1"
            " returning ticket_id"
        ).fetchone()

    # rows already sharing a key: the run fails and says which key, and the table keeps its rows
    with pytest.raises(AssertionError, match=rf"could not create unique index(.|\n)*\(ticket_id\)=\({ticket_id}\)"):
        dbt_build(url, MODEL, tmp_path / "refused")
    with psycopg.connect(url) as conn:
        assert _unique_indexes(conn) == []
        assert conn.execute(f"select count(*) from intermediate.{MODEL}").fetchone()[0] == rows + 1
