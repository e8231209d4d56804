"""An index a model's post-hook keeps is made on a table built without it (issue 15).

dbt creates a model's configured `indexes` only with its table, and an incremental model keeps its table, so a
warehouse staged before an index was declared would never get it: stg_survey__scorecard_answers' deletes by
submission and every scoped data test's read of the newest batches would scan the whole table every day, and its
scoped unique test on answer_id would look up the day's answers without an index on that column (a plan that took
604 s on a ticket table at 100,000 customers). macros/scoped_data_tests.sql's index_if_missing and
index_load_batches make them on the next run. Oracle: the catalog (pg_index).
"""

from __future__ import annotations

import psycopg

from tests.conftest import dbt_build

MODEL = "stg_survey__scorecard_answers"
# its deletes' (the model's post-hook), the new batches' and its unique test's column (index_load_batches)
INDEXES = {("submission_id",), ("load_batch_id",), ("answer_id",)}
# each index of a table with its columns, in order
INDEX_COLUMNS = """
    select indexes.indexrelid::regclass::text, array_agg(attributes.attname::text order by keys.position)
    from pg_index as indexes
    cross join lateral unnest(indexes.indkey::int2[]) with ordinality as keys (attnum, position)
    inner join pg_attribute as attributes
        on attributes.attrelid = indexes.indrelid and attributes.attnum = keys.attnum
    where indexes.indrelid = %s::regclass
    group by indexes.indexrelid
"""


def _indexed(conn: psycopg.Connection, table: str) -> dict[tuple[str, ...], str]:
    """Each index of `table` by its columns."""
    return {tuple(columns): index for index, columns in conn.execute(INDEX_COLUMNS, [table])}


def test_the_next_run_makes_the_indexes_a_table_built_without_them_lacks(pipeline, tmp_path):
    url, _, _ = pipeline("missing_indexes", MODEL, customers=60, months=12, seed=11)
    table = f"staging.{MODEL}"
    with psycopg.connect(url, autocommit=True) as conn:
        made = _indexed(conn, table)
        assert made.keys() == INDEXES, made  # the first build made all three
        rows = conn.execute(f"select count(*) from {table}").fetchone()[0]
        assert rows > 0
        for index in made.values():
            conn.execute(f"drop index {index}")
        assert _indexed(conn, table) == {}

    dbt_build(url, MODEL, tmp_path / "again")
    with psycopg.connect(url) as conn:
        assert _indexed(conn, table).keys() == INDEXES
        assert conn.execute(f"select count(*) from {table}").fetchone()[0] == rows


def test_an_index_on_more_columns_counts_only_when_it_starts_with_all_of_them(pipeline, tmp_path):
    """The MRR models' month indexes: a unique index whose second column is the month, or an index on the
    currency alone, is not the index the plans read by currency and month."""
    models = "int_subscription_mrr_monthly int_customer_mrr_monthly"
    url, _, _ = pipeline("missing_mrr_indexes", "+int_customer_mrr_monthly", customers=60, months=12, seed=11)
    subscription_months, customer_months = (f"intermediate.{model}" for model in models.split())
    with psycopg.connect(url, autocommit=True) as conn:
        made = {table: _indexed(conn, table) for table in (subscription_months, customer_months)}
        assert made[subscription_months].keys() == {("subscription_id", "month"), ("currency_code", "month")}
        assert made[customer_months].keys() == {("customer_key", "month"), ("month",)}
        conn.execute(f"drop index {made[subscription_months]['currency_code', 'month']}")
        conn.execute(f"drop index {made[customer_months]['month',]}")
        conn.execute(f"create index currency_alone on {subscription_months} (currency_code)")

    dbt_build(url, models, tmp_path / "again")
    with psycopg.connect(url) as conn:
        assert _indexed(conn, subscription_months).keys() == {
            ("subscription_id", "month"),
            ("currency_code",),
            ("currency_code", "month"),
        }
        assert _indexed(conn, customer_months).keys() == {("customer_key", "month"), ("month",)}
