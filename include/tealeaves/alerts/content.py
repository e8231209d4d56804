"""The words of each alert: what failed, what was found, what BI still sees, where to look next.

Written for the person on call reading a phone at 7am: the title alone says what broke and where; the body
gives the evidence (observed vs expected, a few offending rows) and the consequence (what was held back).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tealeaves.alerts.message import Alert, Kind, Section
from tealeaves.quality.results import ExpectationOutcome, GateResult

PREFIX = "[tealeaves]"
MAX_ROWS = 5
_MAX_ERROR_LINES = 12


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def how_long(span: timedelta) -> str:
    """`2 d 3 h`, `2 h 40 min`, `5 min`: the units a person on call reads at a glance."""
    minutes = max(int(span.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    return " ".join(parts) or "0 min"


def _since(first_failed_at: datetime | None, now: datetime) -> str:
    if first_failed_at is None:
        return ""
    return f"since {when(first_failed_at)} ({how_long(now - first_failed_at)})"


def row_text(value: Any) -> str:
    """One offending row as every alert quotes it: columns as `name=value`, otherwise the value itself."""
    if isinstance(value, dict):
        return "  ".join(f"{k}={json.dumps(v, default=str)}" for k, v in value.items())
    return json.dumps(value, default=str)


def _target(outcome: ExpectationOutcome) -> str:
    column = f"({outcome.column})" if outcome.column else ""
    return f"{outcome.table} {outcome.expectation_type}{column}"


def gate_failing(
    kind: Kind,
    key: str,
    dag_id: str,
    gate_name: str,
    run_id: str,
    gate: GateResult,
    consequence: str | None,
    held_back: Sequence[str],
    docs: str,
    first_failed_at: datetime | None,
    now: datetime,
) -> Alert:
    failures = gate.blocking_failures
    broken = [s for s in gate.suites if s.error]
    count = len(failures) + len(broken)
    what = f"{count} blocking failure{'s' if count != 1 else ''}" if count else "earlier failed data still held back"
    if kind == "reminder":
        title = f"{PREFIX} Still failing {_since(first_failed_at, now)}: quality gate {gate_name}, {what}"
    else:
        title = f"{PREFIX} Quality gate FAILED in {gate_name}: {what}" + (f", {consequence}" if consequence else "")
    failed_suites = sum(not s.success for s in gate.suites)
    lead = (
        f"Run {run_id} of {dag_id} stopped at quality gate {gate_name}: {failed_suites} of {len(gate.suites)}"
        f" suite(s) failed, {what}."
    )
    lines = [f"{s.suite}: {s.schema}.{s.table} could not be validated: {s.error}" for s in broken]
    lines += [o.describe() for o in failures]
    sections = [Section("Failed expectations (observed vs expected)", tuple(lines))] if lines else []
    for outcome in failures:
        if outcome.unexpected_sample:
            rows = tuple(row_text(v) for v in outcome.unexpected_sample[:MAX_ROWS])
            sections.append(Section(f"Offending rows, up to {MAX_ROWS}: {_target(outcome)}", rows, code=True))
    if gate.warnings:
        sections.append(Section("Warnings (not blocking)", tuple(o.describe() for o in gate.warnings)))
    sections.append(Section("Held back from BI", tuple(held_back)))
    facts = sorted({f"suite-error {s.suite}" for s in broken} | {_target(o) for o in failures})
    return Alert(
        key=key,
        kind=kind,
        title=title,
        lead=lead,
        sections=tuple(sections),
        links=(("Data Docs", docs),),
        facts=tuple(facts),
    )


def gate_recovered(
    key: str,
    dag_id: str,
    gate_name: str,
    run_id: str,
    gate: GateResult,
    previous_title: str | None,
    first_failed_at: datetime | None,
    now: datetime,
    docs: str,
) -> Alert:
    checked = sum(len(s.outcomes) for s in gate.suites)
    lead = (
        f"Run {run_id} of {dag_id} passed quality gate {gate_name}: {len(gate.suites)} suite(s), {checked}"
        f" expectations, {len(gate.warnings)} warning(s). It had been failing {_since(first_failed_at, now)};"
        " nothing is held back by it any more."
    )
    sections = (Section("Was failing", (previous_title,)),) if previous_title else ()
    return Alert(
        key=key,
        kind="recovered",
        title=f"{PREFIX} Quality gate passes again in {gate_name}",
        lead=lead,
        sections=sections,
        links=(("Data Docs", docs),),
    )


def freshness_failing(
    kind: Kind,
    key: str,
    source: str,
    status: str,
    last_loaded_at: datetime | None,
    warn_after: timedelta | None,
    error_after: timedelta | None,
    details: Sequence[str],
    first_failed_at: datetime | None,
    now: datetime,
) -> Alert:
    age = f"{how_long(now - last_loaded_at)} ago" if last_loaded_at else "never loaded"
    warn = how_long(warn_after) if warn_after else "not set"
    error = how_long(error_after) if error_after else "not set"
    if status == "runtime error":
        title = f"{PREFIX} Freshness of source {source} could not be measured"
        lead = f"dbt could not measure how fresh {source} is (a table missing, a query failing); see below."
    else:
        title = f"{PREFIX} Source {source} is stale ({status}): last load {when(last_loaded_at)}, {age}"
        lead = (
            f"No new {source} export has loaded since {when(last_loaded_at)} ({age}); the threshold is warn after"
            f" {warn}, error after {error}. Marts built from {source} show data as of that load."
        )
    if kind == "reminder":
        title = f"{PREFIX} Still {status} {_since(first_failed_at, now)}: freshness of source {source}"
    summary = (
        f"source: {source}",
        f"status: {status}",
        f"last load: {when(last_loaded_at)}",
        f"warn after: {warn}; error after: {error}",
        f"checked at: {when(now)}",
    )
    sections = [Section("Freshness", summary)]
    if details:
        sections.append(Section("Tables", tuple(details)))
    return Alert(key=key, kind=kind, title=title, lead=lead, sections=tuple(sections), facts=(status,))


def freshness_recovered(
    key: str, source: str, last_loaded_at: datetime | None, first_failed_at: datetime | None, now: datetime
) -> Alert:
    return Alert(
        key=key,
        kind="recovered",
        title=f"{PREFIX} Source {source} is fresh again: last load {when(last_loaded_at)}",
        lead=f"{source} loaded at {when(last_loaded_at)}; it had been stale {_since(first_failed_at, now)}.",
    )


def task_failing(
    kind: Kind,
    key: str,
    dag_id: str,
    task_id: str | None,
    run_id: str,
    try_number: int | None,
    max_tries: int | None,
    log_url: str | None,
    error: str,
    reason: str | None,
    first_failed_at: datetime | None,
    now: datetime,
) -> Alert:
    tries = f" (try {try_number} of {max_tries + 1})" if try_number and max_tries is not None else ""
    if task_id and reason is None:
        subject = f"Task {dag_id}.{task_id}"
        lead = f"Task {task_id} of {dag_id} failed in run {run_id}{tries}; it will not be retried."
    else:
        subject = f"DAG run of {dag_id}"
        cause = f" at task {task_id}" if task_id else ""
        lead = f"Run {run_id} of {dag_id} failed{cause} (reason: {reason or 'unknown'})."
    title = f"{PREFIX} {subject} failed{tries}"
    if kind == "reminder":
        title = f"{PREFIX} Still failing {_since(first_failed_at, now)}: {subject}"
    error_lines = tuple(line for line in error.strip().splitlines() if line.strip())[-_MAX_ERROR_LINES:]
    facts = (error_lines[-1] if error_lines else "",)
    sections = (Section("Error", error_lines or ("(no exception recorded)",), code=True),)
    return Alert(
        key=key,
        kind=kind,
        title=title,
        lead=lead,
        sections=sections,
        links=(("Log", log_url),) if log_url else (),
        facts=facts,
    )


def run_recovered(
    key: str, dag_id: str, run_id: str, previous_title: str | None, first_failed_at: datetime | None, now: datetime
) -> Alert:
    what = key.split(":", 1)[1]
    return Alert(
        key=key,
        kind="recovered",
        title=f"{PREFIX} {what} succeeds again",
        lead=f"Run {run_id} of {dag_id} succeeded; {what} had been failing {_since(first_failed_at, now)}.",
        sections=(Section("Was failing", (previous_title,)),) if previous_title else (),
    )


def run_late(
    kind: Kind, key: str, dag_id: str, run_id: str, deadline: datetime | None, state: str | None, now: datetime
) -> Alert:
    lead = (
        f"Run {run_id} of {dag_id} had not finished by its deadline {when(deadline)} (now {state or 'running'})."
        " BI still shows the previous day's marts until it publishes."
    )
    return Alert(
        key=key,
        kind=kind,
        title=f"{PREFIX} {dag_id} is late: run not finished by {when(deadline)}",
        lead=lead,
        facts=("late",),
    )


def late_recovered(key: str, dag_id: str, run_id: str, first_failed_at: datetime | None, now: datetime) -> Alert:
    return Alert(
        key=key,
        kind="recovered",
        title=f"{PREFIX} {dag_id} finished: run {run_id} succeeded",
        lead=f"Run {run_id} of {dag_id} finished at {when(now)}; it had been late {_since(first_failed_at, now)}.",
    )
