"""Airflow notifiers that hand DAG events to `tealeaves.alerts`, which decides who is told and when.

Wire them on the DAG, not inside tasks (docs/alerts.md):

    default_args={"on_failure_callback": FailureNotifier()}      # a task failed for good (after retries)
    on_success_callback=SuccessNotifier()                         # recoveries: the run went through again
    deadline=late_run_deadline(settings.alert_deadline_hours)    # the run is late (Airflow 3's SLA)

A notifier never raises into Airflow: an alert that cannot be sent is logged, and the task's own failure
stays what the UI shows.
"""

from __future__ import annotations

import asyncio
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference
from airflow.sdk.bases.notifier import BaseNotifier
from airflow.sdk.exceptions import AirflowFailException


def _settings():
    from tealeaves.config import get_settings

    return get_settings()


def _error_text(error: Any) -> str:
    if isinstance(error, BaseException):
        return "".join(traceback.format_exception_only(type(error), error)).strip()
    return str(error) if error else ""


def _dag_id(context: dict[str, Any]) -> str:
    ti = context.get("ti") or context.get("task_instance")
    if ti is not None and getattr(ti, "dag_id", None):
        return ti.dag_id
    dag = context.get("dag")
    if dag is not None:
        return dag.dag_id
    dag_run = context.get("dag_run")
    return getattr(dag_run, "dag_id", None) or "unknown DAG"


class ReportedFailure(AirflowFailException):
    """Fails the task without retries, saying its alert was already sent with more detail than a traceback.

    The quality gate raises it after `report_gate`: `FailureNotifier` then stays quiet, so the person on
    call gets the gate's alert (expectations, rows, what BI reads) and not a second, vaguer one.
    """


class _Notifier(BaseNotifier):
    def render_template_fields(self, context: dict[str, Any], jinja_env: Any = None) -> None:
        """Nothing here is templated, and skipping it spares needing a real DAG in the context.

        `dag.test()` runs DAG callbacks with the scheduler's SerializedDAG, which cannot render templates.
        """


class FailureNotifier(_Notifier):
    """`on_failure_callback` for tasks (alert key `task:<dag>.<task>`) or for a DAG (`run:<dag>`).

    On tasks, Airflow calls it once the last try has failed, so retries do not page anyone. Put it on
    tasks (`default_args`) or on the DAG, not both: each would send its own alert.
    """

    def notify(self, context: dict[str, Any]) -> None:
        from tealeaves.alerts import report_task_failure

        ti = context.get("ti") or context.get("task_instance")
        reason = context.get("reason")  # only DAG-run callbacks carry one
        if isinstance(context.get("exception"), ReportedFailure):
            self.log.info("tealeaves alert already sent by the task itself; nothing more to tell")
            return
        log_url = None
        try:
            log_url = ti.log_url if ti is not None else None
        except Exception:  # noqa: BLE001 - a link is a nicety; never lose the alert for it
            self.log.debug("no log URL for %s", ti, exc_info=True)
        try:
            report = report_task_failure(
                _settings(),
                dag_id=_dag_id(context),
                run_id=str(context.get("run_id") or getattr(ti, "run_id", "unknown run")),
                task_id=getattr(ti, "task_id", None),
                error=_error_text(context.get("exception")) or (f"DAG run failed: {reason}" if reason else ""),
                try_number=getattr(ti, "try_number", None),
                max_tries=getattr(ti, "max_tries", None),
                log_url=log_url,
                reason=reason,
            )
        except Exception:  # noqa: BLE001 - the alert failing must not mask the task's own failure
            self.log.exception("tealeaves alert for this failure could not be handled")
            return
        self.log.info("tealeaves alert %s: %s", report.key, report.sent or "nothing new to tell")


class SuccessNotifier(_Notifier):
    """DAG `on_success_callback`: one recovery for each task, run or lateness alert of this DAG still open."""

    def notify(self, context: dict[str, Any]) -> None:
        from tealeaves.alerts import report_run_success

        try:
            reports = report_run_success(_settings(), _dag_id(context), str(context.get("run_id")))
        except Exception:  # noqa: BLE001 - a recovery message is not worth failing a good run
            self.log.exception("tealeaves recovery alerts could not be handled")
            return
        for report in reports:
            self.log.info("tealeaves alert %s: %s", report.key, report.sent or "nothing new to tell")


class LateRunNotifier(_Notifier):
    """Callback of a `DeadlineAlert`: the run has not finished by its deadline (alert key `late:<dag>`).

    Airflow 3 removed SLAs; a deadline's callback runs in the triggerer (`AsyncCallback(LateRunNotifier)`),
    which builds the notifier with a small context (`dag_run` as a dict, `deadline`) and awaits it.
    """

    def __init__(self, context: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(context=context)
        self.kwargs = kwargs

    async def async_notify(self, context: dict[str, Any]) -> None:
        await asyncio.to_thread(self.notify, context)

    def notify(self, context: dict[str, Any]) -> None:
        from tealeaves.alerts import report_run_late

        dag_run = context.get("dag_run") or {}
        if not isinstance(dag_run, dict):  # a full Airflow context, e.g. when called by hand
            dag_run = {"dag_id": dag_run.dag_id, "dag_run_id": dag_run.run_id, "state": str(dag_run.state)}
        deadline = (context.get("deadline") or {}).get("deadline_time")
        if isinstance(deadline, str):
            deadline = datetime.fromisoformat(deadline)
        try:
            report = report_run_late(
                _settings(),
                dag_run.get("dag_id") or self.kwargs.get("dag_id") or "unknown DAG",
                str(dag_run.get("dag_run_id") or dag_run.get("run_id") or "unknown run"),
                deadline.astimezone(UTC) if isinstance(deadline, datetime) else None,
                dag_run.get("state"),
            )
        except Exception:  # noqa: BLE001 - logged; the triggerer has nothing better to do with it
            self.log.exception("tealeaves lateness alert could not be handled")
            return
        self.log.info("tealeaves alert %s: %s", report.key, report.sent or "nothing new to tell")


def late_run_deadline(hours: float) -> DeadlineAlert | None:
    """The run must finish within `hours` of being queued, or `LateRunNotifier` tells people; 0: no deadline.

    Off unless asked for (TEALEAVES_ALERT_DEADLINE_HOURS) because Airflow 3.3.2's `dag.test()` crashes at the
    end of a successful run of a DAG that has a deadline (apache/airflow#73428), and the DAG tests use it.
    """
    if not hours:
        return None
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(hours=hours),
        callback=AsyncCallback(LateRunNotifier),
        name="tealeaves run late",
    )
