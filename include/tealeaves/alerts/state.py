"""Remember what each alert last said, so the person on call hears about a failure once, not every hour.

One row per alert key in `quality.alert_state`. The rule: tell on ok → failing; stay quiet while it keeps
failing (a reminder after `remind_after`, or sooner if it gets worse); tell once on failing → ok; say
nothing on ok → ok. A failure no channel managed to deliver counts as not yet told, so the next report
tries again.

The row is locked (`select ... for update`) from the decision until the state is written, around the
sending too: two reporters of the same key (a retried task, a backfill) cannot both send.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

import psycopg

from tealeaves.alerts.message import Kind
from tealeaves.db.migrate import ensure_current

Status = Literal["failing", "ok"]


@dataclass(frozen=True)
class AlertState:
    key: str
    status: Status = "ok"
    level: int = 0
    first_failed_at: datetime | None = None
    notified: bool = False
    last_sent_at: datetime | None = None
    last_sent_kind: str | None = None
    fingerprint: str | None = None
    last_title: str | None = None


def decide(
    previous: AlertState, failing: bool, level: int, now: datetime, remind_after: timedelta | None
) -> Kind | None:
    """Which alert, if any, this report deserves given what was told before."""
    if not failing:
        return "recovered" if previous.status == "failing" and previous.notified else None
    if previous.status == "ok" or not previous.notified or level > previous.level:
        return "failing"
    if remind_after and previous.last_sent_at and now - previous.last_sent_at >= remind_after:
        return "reminder"
    return None


def after(
    previous: AlertState,
    failing: bool,
    level: int,
    now: datetime,
    sent: Kind | None,
    delivered: bool,
    fingerprint: str | None,
    title: str | None,
) -> AlertState:
    """The state to store once this report has been handled (and `sent`, when it was, `delivered` or not)."""
    if not failing:
        return AlertState(
            key=previous.key,
            last_sent_at=now if sent and delivered else previous.last_sent_at,
            last_sent_kind=sent if sent and delivered else previous.last_sent_kind,
            fingerprint=previous.fingerprint,
            last_title=previous.last_title,
        )
    state = replace(
        previous,
        status="failing",
        level=max(level, previous.level) if previous.status == "failing" else level,
        first_failed_at=previous.first_failed_at if previous.status == "failing" else now,
        notified=previous.notified if previous.status == "failing" else False,
    )
    if sent and delivered:
        state = replace(
            state, notified=True, last_sent_at=now, last_sent_kind=sent, fingerprint=fingerprint, last_title=title
        )
    return state


@contextmanager
def locked(url: str, key: str) -> Iterator[tuple[psycopg.Connection, AlertState]]:
    """The key's current state, with its row locked until the block ends; write it back with `save`."""
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_current(conn)  # quality.alert_state is made by the warehouse's revisions (tealeaves.db.migrate)
        with conn.transaction():
            conn.execute(
                "insert into quality.alert_state (alert_key, status, updated_at) values (%s, 'ok', now())"
                " on conflict (alert_key) do nothing",
                [key],
            )
            row = conn.execute(
                "select status, level, first_failed_at, notified, last_sent_at, last_sent_kind, fingerprint,"
                " last_title from quality.alert_state where alert_key = %s for update",
                [key],
            ).fetchone()
            assert row is not None  # inserted above when missing
            yield conn, AlertState(key, *row)


def save(conn: psycopg.Connection, state: AlertState, now: datetime) -> None:
    conn.execute(
        "update quality.alert_state set status = %s, level = %s, first_failed_at = %s, notified = %s,"
        " last_sent_at = %s, last_sent_kind = %s, fingerprint = %s, last_title = %s, updated_at = %s"
        " where alert_key = %s",
        [
            state.status,
            state.level,
            state.first_failed_at,
            state.notified,
            state.last_sent_at,
            state.last_sent_kind,
            state.fingerprint,
            state.last_title,
            now,
            state.key,
        ],
    )


def failing_keys(url: str, prefix: str) -> list[str]:
    """Keys that start with `prefix` and are failing now: what a successful DAG run may recover."""
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_current(conn)
        rows = conn.execute(
            "select alert_key from quality.alert_state where status = 'failing' and starts_with(alert_key, %s)"
            " order by alert_key",
            [prefix],
        ).fetchall()
    return [row[0] for row in rows]
