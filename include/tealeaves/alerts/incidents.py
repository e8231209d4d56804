"""Report a state (the gate failed, a source is stale, a task failed, the run is late) and let the no-repeat
rule decide whether anyone is told. Callers report every time; only changes reach people.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

import psycopg

from tealeaves.alerts import content, state
from tealeaves.alerts.channels import load_channels
from tealeaves.alerts.delivery import Channel, Delivery, deliver
from tealeaves.alerts.message import Alert, Kind
from tealeaves.config import Settings
from tealeaves.publications import held_back as published_held_back
from tealeaves.publications import held_back_batches
from tealeaves.quality.results import GateResult

if TYPE_CHECKING:  # the raw gate imports Great Expectations: a notifier must not pay for it
    from tealeaves.quality.freshness import SourceFreshness, TableFreshness
    from tealeaves.quality.raw_gate import RawGateResult

FreshnessStatus = Literal["pass", "warn", "error", "runtime error"]
log = logging.getLogger(__name__)
_FRESHNESS_LEVEL = {"pass": 0, "warn": 1, "error": 2, "runtime error": 2}


@dataclass(frozen=True)
class Report:
    """What one report led to: which alert was sent (None: nothing to tell) and how each channel fared."""

    key: str
    sent: Kind | None
    deliveries: tuple[Delivery, ...] = field(default=())
    alert: Alert | None = None


def docs_location(settings: Settings) -> str:
    """Where the alert points people for the full results: TEALEAVES_DOCS_URL, else the local GX Data Docs."""
    return settings.docs_url or str(settings.docs_dir / "quality" / "index.html")


def _remind_after(settings: Settings) -> timedelta | None:
    return timedelta(hours=settings.alert_remind_hours) if settings.alert_remind_hours else None


def _apply(
    settings: Settings,
    key: str,
    failing: bool,
    level: int,
    build: Callable[[Kind, state.AlertState], Alert],
    channels: Sequence[Channel] | None,
    now: datetime | None,
) -> Report:
    now = now or datetime.now(UTC)
    try:
        return _apply_locked(settings, key, failing, level, build, channels, now)
    except psycopg.OperationalError as error:
        if not failing:
            log.error("alert %s: recovery not checked, the alert state is unreachable: %s", key, error)
            return Report(key, None)
        # Better a repeated alert than a silent failure: send without the no-repeat check.
        log.error(
            "alert %s: the alert state in quality.alert_state is unreachable (%s); sending without the"
            " no-repeat check, so this alert may repeat until the warehouse is back",
            key,
            error,
        )
        alert = build("failing", state.AlertState(key))
        return Report(key, "failing", tuple(deliver(alert, _channels(settings, channels))), alert)


def _channels(settings: Settings, channels: Sequence[Channel] | None) -> Sequence[Channel]:
    return load_channels(settings) if channels is None else channels


def _apply_locked(
    settings: Settings,
    key: str,
    failing: bool,
    level: int,
    build: Callable[[Kind, state.AlertState], Alert],
    channels: Sequence[Channel] | None,
    now: datetime,
) -> Report:
    with state.locked(settings.url(), key) as (conn, previous):
        kind = state.decide(previous, failing, level, now, _remind_after(settings))
        alert, deliveries = None, ()
        if kind is not None:
            alert = build(kind, previous)
            deliveries = tuple(deliver(alert, _channels(settings, channels)))
        delivered = any(d.ok for d in deliveries)
        fingerprint, title = (alert.fingerprint(), alert.title) if alert else (None, None)
        state.save(conn, state.after(previous, failing, level, now, kind, delivered, fingerprint, title), now)
    return Report(key, kind, deliveries, alert)


def report_gate(
    settings: Settings,
    dag_id: str,
    run_id: str,
    gate: GateResult,
    *,
    task_id: str | None = None,
    held_back: Sequence[str] | None = None,
    docs_url: str | None = None,
    channels: Sequence[Channel] | None = None,
    now: datetime | None = None,
) -> Report:
    """Report the marts gate's verdict: an alert on the first failure, one recovery on the first pass after.

    `task_id` names the gate when a DAG has more than one (key `gate:<dag>.<task>`, else `gate:<dag>`).
    `held_back` says what BI did not get; left out, it is read from the warehouse (the unpublished
    `marts_build` and the last recorded publication of `marts`).
    """

    def lines() -> Sequence[str]:
        return held_back if held_back is not None else published_held_back(settings.url(), run_id)

    consequence = "marts not published" if held_back is None else None
    return _report_gate(
        settings, dag_id, task_id, run_id, gate, not gate.passed, lines, consequence, docs_url, channels, now
    )


def report_raw_gate(
    settings: Settings,
    dag_id: str,
    run_id: str,
    result: RawGateResult,
    *,
    task_id: str | None = None,
    docs_url: str | None = None,
    channels: Sequence[Channel] | None = None,
    now: datetime | None = None,
) -> Report:
    """Report the raw gate's verdict; it fails while any bad batch is held back, even one from an earlier run."""

    def lines() -> Sequence[str]:
        return held_back_batches(settings.url(), result.held_back)

    consequence = "new data held back from staging"
    return _report_gate(
        settings, dag_id, task_id, run_id, result.gate, not result.passed, lines, consequence, docs_url, channels, now
    )


def _report_gate(
    settings: Settings,
    dag_id: str,
    task_id: str | None,
    run_id: str,
    gate: GateResult,
    failing: bool,
    held_back: Callable[[], Sequence[str]],
    consequence: str | None,
    docs_url: str | None,
    channels: Sequence[Channel] | None,
    now: datetime | None,
) -> Report:
    docs = docs_url or docs_location(settings)
    name = f"{dag_id}.{task_id}" if task_id else dag_id
    key = f"gate:{name}"
    now_ = now or datetime.now(UTC)

    def build(kind: Kind, previous: state.AlertState) -> Alert:
        if kind == "recovered":
            return content.gate_recovered(
                key, dag_id, name, run_id, gate, previous.last_title, previous.first_failed_at, now_, docs
            )
        return content.gate_failing(
            kind, key, dag_id, name, run_id, gate, consequence, held_back(), docs, previous.first_failed_at, now_
        )

    return _apply(settings, key, failing, 1, build, channels, now_)


def report_freshness(
    settings: Settings,
    source: str,
    status: FreshnessStatus,
    last_loaded_at: datetime | None,
    warn_after: timedelta | None,
    error_after: timedelta | None,
    *,
    details: Sequence[str] = (),
    channels: Sequence[Channel] | None = None,
    now: datetime | None = None,
) -> Report:
    """Report one source's freshness: `warn`, `error` and `runtime error` are failing; getting worse is told again."""
    if status not in _FRESHNESS_LEVEL:
        raise ValueError(f"freshness status of {source!r} must be one of {sorted(_FRESHNESS_LEVEL)}, got {status!r}")
    key = f"freshness:{source}"
    now_ = now or datetime.now(UTC)

    def build(kind: Kind, previous: state.AlertState) -> Alert:
        if kind == "recovered":
            return content.freshness_recovered(key, source, last_loaded_at, previous.first_failed_at, now_)
        return content.freshness_failing(
            kind,
            key,
            source,
            status,
            last_loaded_at,
            warn_after,
            error_after,
            details,
            previous.first_failed_at,
            now_,
        )

    level = _FRESHNESS_LEVEL[status]
    return _apply(settings, key, level > 0, level, build, channels, now_)


def report_source_freshness(
    settings: Settings,
    verdict: SourceFreshness,
    *,
    channels: Sequence[Channel] | None = None,
    now: datetime | None = None,
) -> Report:
    """`report_freshness` for one verdict of `tealeaves.quality.freshness.check_freshness`.

    The thresholds shown are the stalest tables' (the tightest when tables differ); each table that is not
    `pass` gets a line with its own numbers.
    """
    stale = verdict.stale_tables()
    judged = stale or list(verdict.tables)
    warn = [t.warn_after_hours for t in judged if t.warn_after_hours is not None]
    error = [t.error_after_hours for t in judged if t.error_after_hours is not None]
    return report_freshness(
        settings,
        verdict.source,
        verdict.status,  # type: ignore[arg-type]  # dbt's statuses, checked in report_freshness
        verdict.last_loaded_at,
        timedelta(hours=min(warn)) if warn else None,
        timedelta(hours=min(error)) if error else None,
        details=tuple(_table_line(t) for t in stale),
        channels=channels,
        now=now,
    )


def _table_line(table: TableFreshness) -> str:
    if table.error:
        return f"{table.source}.{table.table}: {table.status}: {table.error}"
    age = f"{table.age_hours:g} h old" if table.age_hours is not None else "never loaded"
    return (
        f"{table.source}.{table.table}: {table.status}, last load {content.when(table.max_loaded_at)} ({age});"
        f" warn after {table.warn_after_hours} h, error after {table.error_after_hours} h"
    )


def report_task_failure(
    settings: Settings,
    *,
    dag_id: str,
    run_id: str,
    task_id: str | None,
    error: str,
    try_number: int | None = None,
    max_tries: int | None = None,
    log_url: str | None = None,
    reason: str | None = None,
    channels: Sequence[Channel] | None = None,
    now: datetime | None = None,
) -> Report:
    """Report a task that failed for good (`reason` None) or a DAG run that failed (`reason` from Airflow)."""
    key = f"task:{dag_id}.{task_id}" if task_id and reason is None else f"run:{dag_id}"
    now_ = now or datetime.now(UTC)

    def build(kind: Kind, previous: state.AlertState) -> Alert:
        return content.task_failing(
            kind,
            key,
            dag_id,
            task_id,
            run_id,
            try_number,
            max_tries,
            log_url,
            error,
            reason,
            previous.first_failed_at,
            now_,
        )

    return _apply(settings, key, True, 1, build, channels, now_)


def report_run_late(
    settings: Settings,
    dag_id: str,
    run_id: str,
    deadline: datetime | None,
    run_state: str | None = None,
    *,
    channels: Sequence[Channel] | None = None,
    now: datetime | None = None,
) -> Report:
    """Report that a run missed its deadline; the next successful run of the DAG sends the all-clear."""
    key = f"late:{dag_id}"
    now_ = now or datetime.now(UTC)

    def build(kind: Kind, previous: state.AlertState) -> Alert:
        return content.run_late(kind, key, dag_id, run_id, deadline, run_state, now_)

    return _apply(settings, key, True, 1, build, channels, now_)


def report_run_success(
    settings: Settings,
    dag_id: str,
    run_id: str,
    *,
    channels: Sequence[Channel] | None = None,
    now: datetime | None = None,
) -> list[Report]:
    """A successful run clears its DAG's task, run and lateness alerts: one recovery for each that was told."""
    now_ = now or datetime.now(UTC)
    reports = []
    url = settings.url()
    keys = [
        *state.failing_keys(url, f"task:{dag_id}."),
        *state.failing_keys(url, f"run:{dag_id}"),
        *state.failing_keys(url, f"late:{dag_id}"),
    ]
    for key in keys:
        if key.startswith(("run:", "late:")) and key.split(":", 1)[1] != dag_id:
            continue  # a prefix of another DAG's id, e.g. run:daily vs run:daily_extra

        def build(kind: Kind, previous: state.AlertState, key: str = key) -> Alert:
            if key.startswith("late:"):
                return content.late_recovered(key, dag_id, run_id, previous.first_failed_at, now_)
            return content.run_recovered(key, dag_id, run_id, previous.last_title, previous.first_failed_at, now_)

        reports.append(_apply(settings, key, False, 0, build, channels, now_))
    return reports
