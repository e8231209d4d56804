"""The LTV summaries' daily run when only the as-of date moves (macros/purchase_history_incremental.sql).

A customer's summary counts the purchases up to the as-of date, the day of the latest paid invoice with money on
it. A $0 order can come after that invoice: the as-of date leaves it out, and the next day's paid invoices move
the as-of date past it, though nothing new names it. Here both are written into the intermediate tables, where no
batch of the ledger names them: only the moving as-of date can bring the order's customer into the run of
int_customer_purchase_history, which int_customers_summarised reads. The oracle is dbt's own full rebuild of the
same models, row for row.
"""

from __future__ import annotations

from collections import Counter

import psycopg

from tests.conftest import dbt_build, incremental_plans
from tests.warehouse import query

MODEL = "int_customers_summarised"  # a view over HISTORY, which the run keeps incrementally
HISTORY = "int_customer_purchase_history"


def _copy(conn: psycopg.Connection, table: str, invoice: str, changes: str) -> None:
    """A copy of `invoice`'s row of `table`, with the assignments `changes` (SQL) made to it."""
    conn.execute(f"create temporary table copied as select * from {table} where invoice_id = %s", [invoice])
    conn.execute(f"update copied set {changes}")
    conn.execute(f"insert into {table} select * from copied")
    conn.execute("drop table copied")


def _rows(url: str) -> Counter:
    return Counter(query(url, f"select t::text from intermediate.{MODEL} as t"))


def test_a_free_order_after_the_old_as_of_date_counts_once_the_date_moves_past_it(pipeline, tmp_path):
    url, _, _ = pipeline("summarised_as_of", f"+{MODEL}", customers=120, months=6, seed=21)
    with psycopg.connect(url, autocommit=True) as conn:
        [(as_of, latest_paid, buyer, purchase)] = conn.execute(
            f"""
            select summarised.as_of_date, latest.invoice_id, purchases.customer_key, purchases.invoice_id
            from (select max(as_of_date) as as_of_date from intermediate.{MODEL}) as summarised
            cross join (
                select invoice_id from intermediate.int_invoices_netted
                order by created_at desc nulls last, invoice_id limit 1
            ) as latest
            cross join lateral (
                select customer_key, invoice_id from intermediate.int_purchases_netted
                where purchased_on < summarised.as_of_date - 30
                order by invoice_id limit 1
            ) as purchases
            """
        ).fetchall()
        # the order: two days after the as-of date, $0; then a paid invoice three days after it moves the date
        _copy(
            conn,
            "intermediate.int_purchases_netted",
            purchase,
            f"invoice_id = 'in_free_after_as_of', created_at = '{as_of}'::date + 2, purchased_on = '{as_of}'::date + 2,"
            " amount_usd = 0",
        )
        _copy(
            conn,
            "intermediate.int_invoices_netted",
            latest_paid,
            "invoice_id = 'in_paid_later', created_at = created_at + interval '3 days'",
        )
    [(frequency_before,)] = query(url, f"select frequency from intermediate.{MODEL} where customer_key = %s", buyer)

    dbt_build(url, f"{HISTORY} {MODEL}", tmp_path / "incremental", debug_log=True)
    assert set(incremental_plans(tmp_path / "incremental", HISTORY)) == {"incremental"}
    [(moved_to, frequency)] = query(
        url, f"select as_of_date, frequency from intermediate.{MODEL} where customer_key = %s", buyer
    )
    assert (moved_to - as_of).days == 3
    assert frequency == frequency_before + 1, "the order is a repeat purchase day"
    incremental = _rows(url)

    dbt_build(url, f"{HISTORY} {MODEL}", tmp_path / "rebuilt", full_refresh=True)
    rebuilt = _rows(url)
    assert incremental == rebuilt, (sorted(incremental - rebuilt)[:3], sorted(rebuilt - incremental)[:3])

    # the later paid invoice withdrawn: the as-of date moves back before the order, which no longer counts
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("delete from intermediate.int_invoices_netted where invoice_id = 'in_paid_later'")
    dbt_build(url, f"{HISTORY} {MODEL}", tmp_path / "back", debug_log=True)
    assert set(incremental_plans(tmp_path / "back", HISTORY)) == {
        "the as of date moved back or the purchases were rebuilt whole"
    }
    assert query(url, f"select frequency from intermediate.{MODEL} where customer_key = %s", buyer) == [
        (frequency_before,)
    ]
    moved_back = _rows(url)
    dbt_build(url, f"{HISTORY} {MODEL}", tmp_path / "rebuilt-back", full_refresh=True)
    assert moved_back == _rows(url)
