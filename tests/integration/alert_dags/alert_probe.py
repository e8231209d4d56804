"""A two-task DAG wired for alerts as `tealeaves_daily` should be; `load_crm` fails when the run's conf says so."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowFailException

from tealeaves_airflow.notifiers import FailureNotifier, ReportedFailure, SuccessNotifier


@task
def load_crm(**context) -> int:
    if context["dag_run"].conf.get("reported"):  # as the quality gate does after report_gate
        raise ReportedFailure("quality gate failed; alert sent with the details")
    if context["dag_run"].conf.get("fail"):
        raise AirflowFailException("crm/companies.csv line 17: column hs_object_id is empty (expected an id)")
    return 1


@task
def publish(rows: int) -> int:
    return rows


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"on_failure_callback": FailureNotifier()},
    on_success_callback=SuccessNotifier(),
    # No deadline here: dag.test() crashes on a successful run of a DAG with one (apache/airflow#73428).
)
def alert_probe():
    publish(load_crm())


alert_probe()
