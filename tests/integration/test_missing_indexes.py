"""An index a model's post-hook keeps is made on a table built without it (issue 15).

dbt creates a model's configured `indexes` only with its table, and an incremental model keeps its table, so a
warehouse staged before an index was declared would never get it: stg_survey__scorecard_answers' deletes by
submission and every scoped data test's read of the newest batches would scan the whole table every day.
macros/scoped_data_tests.sql's index_if_missing makes them on the next run. Oracle: the catalog (pg_index).
"""

from __future__ import annotations

import psycopg

from tests.conftest import dbt_build

MODEL = "stg_survey__scorecard_answers"
LEADING_COLUMNS = """
    select indexes.indexrelid::regclass::text, attributes.attname
    from pg_index as indexes
    inner join pg_attribute as attributes
        on attributes.attrelid = indexes.indrelid and attributes.attnum = indexes.indkey[0]
    where indexes.indrelid = 'staging.stg_survey__scorecard_answers'::regclass
"""


def _indexed(conn: psycopg.Connection) -> dict[str, str]:
    """Each index of the model's table by its first column."""
    return {column: index for index, column in conn.execute(LEADING_COLUMNS)}


def test_the_next_run_makes_the_indexes_a_table_built_without_them_lacks(pipeline, tmp_path):
    url, _, _ = pipeline("missing_indexes", MODEL, customers=60, months=12, seed=11)
    with psycopg.connect(url, autocommit=True) as conn:
        made = _indexed(conn)
        assert made.keys() == {"submission_id", "load_batch_id"}, made  # the first build made both
        rows = conn.execute(f"select count(*) from staging.{MODEL}").fetchone()[0]
        assert rows > 0
        for index in made.values():
            conn.execute(f"drop index {index}")
        assert _indexed(conn) == {}

    dbt_build(url, MODEL, tmp_path / "again")
    with psycopg.connect(url) as conn:
        assert _indexed(conn).keys() == {"submission_id", "load_batch_id"}
        assert conn.execute(f"select count(*) from staging.{MODEL}").fetchone()[0] == rows
