"""The MRR models' daily run when the data's end moves (macros/subscription_mrr_incremental.sql).

A month's snapshot is taken at its end, or at the data's end while the month is partial, so each day of data moves
the last month's snapshot. A daily run recomputes that month only for the subscriptions with a record dated between
the two ends (and those priced in a currency whose rate the month now reads), and every subscription's new months.
Here the records dated after the end are written into staging, where no batch of the ledger names them: only the
data's end can bring them into a run. The oracle is dbt's own full rebuild of the same tables, row for row.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

from tests.conftest import dbt_build, incremental_plans
from tests.warehouse import query

MRR_CHAIN = (
    "int_revenue_months int_subscription_mrr_monthly int_customer_mrr_monthly fct_mrr_movements"
    " fct_support_tickets fct_survey_responses int_customer_signals_monthly fct_customer_health"
)
MRR_MODELS = (
    "int_subscription_mrr_monthly",
    "int_customer_mrr_monthly",
    "fct_mrr_movements",
    "int_customer_signals_monthly",
    "fct_customer_health",
)
KEPT = (
    "intermediate.int_subscription_mrr_monthly",
    "intermediate.int_customer_mrr_monthly",
    "marts_build.fct_mrr_movements",
    "intermediate.int_customer_signals_monthly",
    "marts_build.fct_customer_health",
)


def _rows(url: str) -> dict[str, Counter]:
    return {table: Counter(query(url, f"select t::text from {table} as t")) for table in KEPT}


def _build_equals_rebuild(url: str, scratch: Path) -> str:
    """The chain built incrementally, then whole: every kept table the same, row for row. Returns the first log."""
    _build(url, scratch / "incremental")
    incremental = _rows(url)
    dbt_build(url, " ".join(MRR_MODELS), scratch / "rebuilt", full_refresh=True)
    rebuilt = _rows(url)
    for table in KEPT:
        assert incremental[table] == rebuilt[table], (
            table,
            sorted(incremental[table] - rebuilt[table])[:3],
            sorted(rebuilt[table] - incremental[table])[:3],
        )
    for model in MRR_MODELS:
        assert set(incremental_plans(scratch / "incremental", model)) == {"incremental"}, model
    return _log(scratch / "incremental")


def _build(url: str, scratch: Path) -> dict[str, int]:
    """The chain built incrementally, with dbt's debug log: the rows each MRR model inserted."""
    dbt_build(url, MRR_CHAIN, scratch, debug_log=True)
    results = json.loads((scratch / "target" / "run_results.json").read_text(encoding="utf-8"))["results"]
    return {
        result["unique_id"].split(".")[2]: result["adapter_response"]["rows_affected"]
        for result in results
        if result["unique_id"].startswith("model.") and result["unique_id"].split(".")[2] in MRR_MODELS
    }


def _subscription_scope(log: str) -> tuple[str, int, str]:
    """What int_subscription_mrr_monthly's run recomputed besides what the batches name: every subscription from
    a month, and how many more from which (subscription_mrr_recomputed's log line)."""
    [(every, more, more_from)] = re.findall(
        r"int_subscription_mrr_monthly: every subscription from '(\S+)'::date, (\d+) more from '(\S+)'::date", log
    )[:1]
    return every, int(more), more_from


def _end_moves_to(url: str, day: date) -> None:
    """An EUR rate dated `day` (one of its own): the latest billing record, so the data now ends that day
    (int_revenue_months)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into staging.stg_billing__fx_rates (rate_date, currency_code, rate_to_usd, load_batch_id)"
            " select %s, 'EUR', %s, max(load_batch_id) from staging.stg_billing__fx_rates",
            [day, 1 + day.day / 100],
        )


def _event(url: str, subscription: str, action: str, at: datetime, status: str, quantity_change: int = 0) -> None:
    """A customer.subscription.<action> event of the subscription, as staging holds Stripe's."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            insert into staging.stg_billing__subscription_events (
                event_id, event_type, event_action, occurred_at, subscription_id, billing_customer_id,
                subscription_status, quantity, previous_quantity, price_id, load_batch_id
            )
            select
                'evt_' || %(action)s || '_' || subscription_id, 'customer.subscription.' || %(action)s, %(action)s,
                %(at)s, subscription_id, billing_customer_id, %(status)s, quantity + %(change)s, quantity, price_id,
                load_batch_id
            from staging.stg_billing__subscriptions where subscription_id = %(subscription)s
            """,
            {"action": action, "at": at, "status": status, "change": quantity_change, "subscription": subscription},
        )


def _paying_quietly(url: str, month: date, count: int, quiet: tuple[date, date], currency: str = "USD") -> list[str]:
    """Subscriptions paying at `month`'s snapshot, in `currency`, with no end, cancellation or event after it and
    no invoice line whose service period begins or ends within `quiet` (so that only the record a step plants
    dates them between two data ends)."""
    rows = query(
        url,
        """
        select subscriptions.subscription_id
        from staging.stg_billing__subscriptions as subscriptions
        inner join intermediate.int_subscription_mrr_monthly as months
            on months.subscription_id = subscriptions.subscription_id and months.month = %s and months.mrr > 0
        where subscriptions.ended_at is null and subscriptions.canceled_at is null
            and subscriptions.currency_code = %s and months.currency_code = %s
            and not exists (
                select from staging.stg_billing__subscription_events as events
                where events.subscription_id = subscriptions.subscription_id
                    and events.occurred_at >= %s::date - interval '1 month'
            )
            and not exists (
                select from staging.stg_billing__invoice_line_items as lines
                where lines.subscription_id = subscriptions.subscription_id
                    and (lines.period_start_at between %s and %s or lines.period_end_at between %s and %s)
            )
        order by subscriptions.subscription_id
        limit %s
        """,
        month,
        currency,
        currency,
        month,
        *quiet,
        *quiet,
        count,
    )
    assert len(rows) == count, (month, currency)
    return [subscription for (subscription,) in rows]


def _mrr(url: str, subscription: str, month: date):
    rows = query(
        url,
        "select mrr from intermediate.int_subscription_mrr_monthly where subscription_id = %s and month = %s",
        subscription,
        month,
    )
    return rows[0][0] if rows else None


def test_a_daily_run_follows_the_moving_data_end(published_world, tmp_path):
    url = published_world
    [(last_day, last_month)] = query(
        url, "select month_last_day, month from intermediate.int_revenue_months order by month desc limit 1"
    )
    dbt_build(url, MRR_CHAIN, tmp_path / "first")  # the marts after a publish are built whole once

    # a new month, ten days in: every subscription's row of it is new; one subscription is deleted in it
    month = (last_month.replace(day=28) + timedelta(days=4)).replace(day=1)
    next_month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    assert month > last_day
    # the later steps' windows, [month + 10 days, month + 20 days), with a day either side
    quiet = (month + timedelta(days=9), month + timedelta(days=21))
    [deleted, updated, ended, canceled, template, lined] = _paying_quietly(url, last_month, 6, quiet)
    [eur] = _paying_quietly(url, last_month, 1, quiet, "EUR")
    _event(url, deleted, "deleted", datetime.combine(month, datetime.min.time()) + timedelta(days=4), "canceled")
    _end_moves_to(url, month + timedelta(days=9))
    log = _build_equals_rebuild(url, tmp_path / "new-month")
    assert _subscription_scope(log)[0] == month.isoformat()
    assert _mrr(url, deleted, month) is None and _mrr(url, deleted, last_month) > 0
    eur_at_ten_days = _mrr(url, eur, month)

    # five and ten days later, in the same partial month, built incrementally twice: the records dated between
    # two ends change their month. Between the first two: an end, a cancellation without an end, a start and an
    # event; between the next two: an invoice line ending, another beginning.
    day = datetime.combine(month, datetime.min.time())
    with psycopg.connect(url, autocommit=True) as conn:
        # canceled at the period's end (Stripe's cancel_at_period_end): asked for before the window, ended in it
        conn.execute(
            "update staging.stg_billing__subscriptions set subscription_status = 'canceled', canceled_at = %s,"
            " ended_at = %s where subscription_id = %s",
            [day + timedelta(days=5), day + timedelta(days=12), ended],
        )
        # Stripe's ended_at is missing: a canceled subscription ended when it was canceled
        conn.execute(
            "update staging.stg_billing__subscriptions set subscription_status = 'canceled', canceled_at = %s"
            " where subscription_id = %s",
            [day + timedelta(days=13), canceled],
        )
        # a subscription started in the window, with no event: its exported state counts
        conn.execute(
            "insert into staging.stg_billing__subscriptions"
            " select 'sub_started_between_ends', billing_customer_id, 'active', price_id, subscription_item_id,"
            "  quantity, currency_code, collection_method, false, null, null, null, %s, %s, %s, %s, load_batch_id"
            " from staging.stg_billing__subscriptions where subscription_id = %s",
            [
                day + timedelta(days=11),
                day + timedelta(days=11),
                day + timedelta(days=42),
                day + timedelta(days=11),
                template,
            ],
        )
    _event(url, updated, "updated", day + timedelta(days=14), "active", 5)
    # the only invoice line covering a discounted subscription's snapshot ends in the second window: no discount
    # then; a line of that invoice (its coupon) for another subscription begins in it: a discount then
    [(discounted, line)] = query(
        url,
        """
        select months.subscription_id, min(lines.line_item_id)
        from intermediate.int_subscription_mrr_monthly as months
        inner join intermediate.int_revenue_months as revenue_months on months.month = revenue_months.month
        inner join staging.stg_billing__invoice_line_items as lines
            on lines.subscription_id = months.subscription_id and lines.line_type = 'subscription'
            and lines.period_start_at < revenue_months.snapshot_at
            and lines.period_end_at >= revenue_months.snapshot_at
        inner join staging.stg_billing__invoices as invoices on lines.invoice_id = invoices.invoice_id
        inner join staging.stg_billing__coupons as coupons on invoices.coupon_id = coupons.coupon_id
        where months.month = %s and months.mrr < months.list_mrr and months.currency_code = 'USD'
            and coupons.duration in ('repeating', 'forever')
            and months.subscription_id <> all(%s)
        group by months.subscription_id
        having count(*) = 1 and min(lines.period_end_at) > %s
        order by months.subscription_id
        limit 1
        """,
        month,
        [deleted, updated, ended, canceled, template, lined, eur],
        month + timedelta(days=20),
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into staging.stg_billing__invoice_line_items (line_item_id, invoice_id, subscription_id,"
            " line_type, price_id, quantity, currency_code, amount, discount_amount, amount_after_discount,"
            " is_proration, period_start_at, period_end_at, load_batch_id)"
            " select 'il_begun_between_ends', lines.invoice_id, subscriptions.subscription_id, 'subscription',"
            "  subscriptions.price_id, subscriptions.quantity, lines.currency_code, 100, 10, 90, false, %s, %s,"
            "  lines.load_batch_id"
            " from staging.stg_billing__invoice_line_items as lines"
            " cross join staging.stg_billing__subscriptions as subscriptions"
            " where lines.line_item_id = %s and subscriptions.subscription_id = %s",
            [day + timedelta(days=16), day + timedelta(days=46), line, lined],
        )
        conn.execute(
            "update staging.stg_billing__invoice_line_items set period_end_at = %s where line_item_id = %s",
            [day + timedelta(days=15), line],
        )
    before = {s: _mrr(url, s, month) for s in (ended, canceled, updated, discounted, lined)}
    _end_moves_to(url, month + timedelta(days=14))
    replaced = _build(url, tmp_path / "same-month-first")
    assert _subscription_scope(_log(tmp_path / "same-month-first"))[0] == next_month.isoformat()
    # the month's churn flags stay unknown while the next month is not in the data: signals and health replace
    # the moved customers' rows, not every customer's
    [(customers,)] = query(
        url, "select count(*) from intermediate.int_customer_mrr_monthly where month = %s and is_active", month
    )
    assert 0 < replaced["int_customer_signals_monthly"] < customers / 2, (replaced, customers)
    assert 0 < replaced["fct_customer_health"] < customers / 2, (replaced, customers)
    _end_moves_to(url, month + timedelta(days=19))
    log = _build_equals_rebuild(url, tmp_path / "same-month")
    every, more, more_from = _subscription_scope(log)
    [(held,)] = query(url, "select count(distinct subscription_id) from intermediate.int_subscription_mrr_monthly")
    # every subscription's months after it only (there are none); the lines' subscriptions and those in EUR,
    # whose rate moved, from the month
    assert every == next_month.isoformat() and more_from == month.isoformat() and more < held / 2, (more, held)
    assert before[ended] > 0 and _mrr(url, ended, month) is None
    assert before[canceled] > 0 and _mrr(url, canceled, month) is None
    assert _mrr(url, updated, month) > before[updated]
    assert _mrr(url, "sub_started_between_ends", month) > 0
    mrr, list_mrr = _mrr_and_list(url, discounted, month)
    assert before[discounted] < mrr == list_mrr
    mrr, list_mrr = _mrr_and_list(url, lined, month)
    assert mrr != before[lined] and abs(mrr - list_mrr * Decimal("0.9")) <= Decimal("0.01"), "a tenth off"
    assert _mrr(url, eur, month) != eur_at_ten_days, "the month converts at the rate of its new last day"

    # the month's last day: it turns complete, and every customer's row of it says so
    _end_moves_to(url, next_month - timedelta(days=1))
    log = _build_equals_rebuild(url, tmp_path / "month-complete")
    assert _subscription_scope(log)[0] == next_month.isoformat()
    assert re.search(rf"int_customer_mrr_monthly: every customer from '{month.isoformat()}'::date", log)
    assert _partial(url, month) is False

    # that day's rate withdrawn: the data ends ten days earlier again, and the month is partial once more
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("delete from staging.stg_billing__fx_rates where rate_date = %s", [next_month - timedelta(days=1)])
    log = _build_equals_rebuild(url, tmp_path / "end-moved-back")
    assert re.search(rf"int_customer_mrr_monthly: every customer from '{month.isoformat()}'::date", log)
    assert _partial(url, month) is True


def _log(scratch: Path) -> str:
    return (scratch / "logs" / "dbt.log").read_text(encoding="utf-8")


def _mrr_and_list(url: str, subscription: str, month: date) -> tuple:
    [row] = query(
        url,
        "select mrr, list_mrr from intermediate.int_subscription_mrr_monthly where subscription_id = %s and month = %s",
        subscription,
        month,
    )
    return tuple(row)


def _partial(url: str, month: date) -> bool:
    [(partial,)] = query(
        url, "select bool_or(is_partial_month) from intermediate.int_customer_mrr_monthly where month = %s", month
    )
    return partial
