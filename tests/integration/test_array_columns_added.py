"""An array column a model gains is added to its incremental table on a warehouse built before it (issue 15).

int_contact_emails and int_company_domains name the contacts or companies of each row (bigint[]) since they are
kept by key. On a warehouse built before, dbt adds the column to the table it keeps (on_schema_change), with the
type dbt-postgres reads from information_schema, 'ARRAY' for every array, which PostgreSQL rejects: the daily build
failed. macros/get_columns_in_relation.sql names the array's type. Oracle: the catalog (format_type) and the rows.
"""

from __future__ import annotations

import psycopg

from tests.conftest import dbt_build

ARRAY_COLUMNS = {"intermediate.int_contact_emails": "contact_ids", "intermediate.int_company_domains": "company_ids"}
COLUMN_TYPE = """
    select format_type(atttypid, atttypmod) from pg_attribute
    where attrelid = %s::regclass and attname = %s and not attisdropped
"""


def test_a_table_built_without_an_array_column_gets_it_on_the_next_run(pipeline, tmp_path):
    url, _, _ = pipeline("array_columns", "+int_customer_identity", customers=60, months=12, seed=11)
    with psycopg.connect(url, autocommit=True) as conn:
        rows = {}
        for table, column in ARRAY_COLUMNS.items():
            assert conn.execute(COLUMN_TYPE, [table, column]).fetchall() == [("bigint[]",)], table
            rows[table] = conn.execute(f"select count(*) from {table}").fetchone()[0]
            assert rows[table] > 0, table
            conn.execute(f"alter table {table} drop column {column}")
        # as new code would (its fingerprint): the next run recomputes every row, in the table it keeps
        conn.execute(
            "delete from intermediate.incremental_state where model = any(%s)",
            [[table.split(".")[1] for table in ARRAY_COLUMNS]],
        )

    dbt_build(url, "int_contact_emails int_company_domains", tmp_path / "again")
    with psycopg.connect(url) as conn:
        for table, column in ARRAY_COLUMNS.items():
            assert conn.execute(COLUMN_TYPE, [table, column]).fetchall() == [("bigint[]",)], table
            filled = f"select count(*), count(*) filter (where cardinality({column}) > 0) from {table}"
            assert conn.execute(filled).fetchone() == (rows[table], rows[table]), table
