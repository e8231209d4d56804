"""One column_values test per model checks every not-null and accepted-values column its YAML lists, in one scan
(issue 15).

It replaced one dbt not_null or accepted_values test per column; it must fail as they did, and say which columns
fail which check, on how many rows, with which values. Oracle: values planted by hand in two staged tables: nulls
in two columns, strings outside a column's list, and numbers outside a numeric column's list. The scorecard answers
are staged incrementally, and a daily run tests only the rows staged since the test last passed
(macros/scoped_data_tests.sql; tests/integration/test_scoped_data_tests.py): the rows planted here are older, so
the run reads every row (var test_whole_tables), as a check of the whole table does.
"""

from __future__ import annotations

import psycopg

from tests.conftest import BUILD_DATABASE, dbt_build

PRICES = "column_values_stg_billing__prices"
ANSWERS = "column_values_stg_survey__scorecard_answers"


def test_a_failing_value_fails_the_test_naming_each_column_its_check_rows_and_values(pipeline, tmp_path):
    url, _, _ = pipeline(
        "column_values", "stg_billing__prices stg_survey__scorecard_answers", customers=60, months=12, seed=11
    )
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [row[0] for row in conn.execute("select price_id from staging.stg_billing__prices order by 1 limit 6")]
        answers = conn.execute("select ctid from staging.stg_survey__scorecard_answers order by 1 limit 3").fetchall()
        assert (len(ids), len(answers)) == (6, 3), "the world stages six prices and three scorecard answers"
        conn.execute("update staging.stg_billing__prices set product_id = null where price_id = any(%s)", [ids[:2]])
        conn.execute("update staging.stg_billing__prices set currency_code = null where price_id = %s", [ids[2]])
        conn.execute("update staging.stg_billing__prices set price_type = 'lease' where price_id = any(%s)", [ids[3:5]])
        conn.execute("update staging.stg_billing__prices set price_type = 'rent''s' where price_id = %s", [ids[5]])
        for ctid, score in zip([row[0] for row in answers], [0, 11, 11], strict=True):
            conn.execute("update staging.stg_survey__scorecard_answers set score = %s where ctid = %s", [score, ctid])

    results = dbt_build(
        url, f"{PRICES} {ANSWERS}", tmp_path / "dbt", dbt_vars={"test_whole_tables": True}, failing_tests=True
    )

    assert {name: (results[name]["status"], results[name]["failures"]) for name in (PRICES, ANSWERS)} == {
        PRICES: ("fail", 3),
        ANSWERS: ("fail", 1),
    }, "one failing row per column and check"
    assert _failing_rows(url, results[PRICES]) == {
        ("product_id", "not null", 2, None),
        ("currency_code", "not null", 1, None),
        ("price_type", "accepted values", 3, ("lease", "rent's")),
    }
    assert _failing_rows(url, results[ANSWERS]) == {("score", "accepted values", 3, ("0", "11"))}


def _failing_rows(url: str, result: dict) -> set[tuple]:
    """The test's own query, on the database dbt built under another name (conftest.dbt_build)."""
    query = result["compiled_code"].replace(f'"{BUILD_DATABASE}".', "")
    with psycopg.connect(url) as conn:
        return {(*row[:3], tuple(row[3]) if row[3] is not None else None) for row in conn.execute(query)}
