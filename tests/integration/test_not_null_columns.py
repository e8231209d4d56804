"""One not_null_columns test per model checks every column its YAML lists, in one scan (issue 15).

It replaced one dbt not_null test per column; it must fail as they did, and say which columns hold nulls.
Oracle: nulls planted by hand in a staged table, two rows in one column and one in another.
"""

from __future__ import annotations

import psycopg

from tests.conftest import BUILD_DATABASE, dbt_build

PRICES_NOT_NULL = "not_null_columns_stg_billing__prices_price_id__product_id__currency_code"


def test_a_null_in_a_listed_column_fails_the_test_naming_each_column_and_its_rows(pipeline, tmp_path):
    # prices are staged whole every run, so the test reads the whole table, planted rows included
    url, _, _ = pipeline("not_null_columns", "stg_billing__prices", customers=40, months=2, seed=11)
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [row[0] for row in conn.execute("select price_id from staging.stg_billing__prices order by 1 limit 3")]
        assert len(ids) == 3
        conn.execute("update staging.stg_billing__prices set product_id = null where price_id = any(%s)", [ids[:2]])
        conn.execute("update staging.stg_billing__prices set currency_code = null where price_id = %s", [ids[2]])

    results = dbt_build(url, PRICES_NOT_NULL, tmp_path / "dbt", failing_tests=True)

    result = results[PRICES_NOT_NULL]
    assert (result["status"], result["failures"]) == ("fail", 2), "one failing row per column holding nulls"
    # the test's own query, on the database dbt built under another name (conftest.dbt_build)
    query = result["compiled_code"].replace(f'"{BUILD_DATABASE}".', "")
    with psycopg.connect(url) as conn:
        failing = set(conn.execute(query).fetchall())
    assert failing == {("product_id", 2), ("currency_code", 1)}
