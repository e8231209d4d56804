"""
### tealeaves_quality

The hourly watch between daily runs: **freshness** of every source (dbt source freshness against the warn and
error thresholds in the source YAML) and the **raw suites** on any batch loaded since the last check (for
example by `tealeaves load` outside the daily run). Each problem alerts the data team once; a recovery message
follows when it clears.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from tealeaves_airflow.notifiers import FailureNotifier, ReportedFailure, SuccessNotifier
from tealeaves_airflow.quality_gate import RawGateOperator


@task
def check_freshness(**context) -> dict[str, str]:
    """Freshness per source, each reported to the data team; a source past its error threshold fails the task."""
    from tealeaves.alerts import report_source_freshness
    from tealeaves.config import get_settings
    from tealeaves.quality.freshness import check_freshness as measure

    settings = get_settings()
    output = settings.home / "freshness" / f"{context['run_id'].replace(':', '_')}" / "sources.json"
    verdicts = measure(settings, output)
    for verdict in verdicts:
        print(f"{verdict.source}: {verdict.status}, last loaded {verdict.last_loaded_at}")
        report_source_freshness(settings, verdict)
    stale = [v.source for v in verdicts if v.status in ("error", "runtime error")]
    if stale:
        raise ReportedFailure(f"stale sources: {', '.join(stale)}")
    return {v.source: v.status for v in verdicts}


@dag(
    schedule="@hourly",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 0, "on_failure_callback": FailureNotifier()},
    on_success_callback=SuccessNotifier(),
    tags=["tealeaves", "quality"],
    doc_md=__doc__,
)
def tealeaves_quality():
    check_freshness()
    RawGateOperator(task_id="validate_new_batches")


tealeaves_quality()
