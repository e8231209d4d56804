"""
### tealeaves_daily

The data's daily path: **load** each source's exports into `raw` → **check** the new batches with Great
Expectations (a bad file is held back from staging) → **build** staging, intermediate and marts with dbt
(marts land in `marts_build`) → **predict** customer lifetime value (BG/NBD + Gamma-Gamma on the dbt
summaries, every fit kept in schema `ltv`) and build the marts that read the predictions → **audit** them with
Great Expectations → **publish** the audited set to `marts` in one transaction → **summarise** the run.

A failed check stops the run at its gate: `marts` keeps the last good version BI already reads.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, dag, task

from tealeaves import sources
from tealeaves.config import DAILY_START, get_settings
from tealeaves.daily_builds import BUILD_MARTS, BUILD_PREDICTED_MARTS
from tealeaves.publish import BUILD
from tealeaves_airflow.dbt_build import dbt_build_group
from tealeaves_airflow.notifiers import FailureNotifier, SuccessNotifier, late_run_deadline
from tealeaves_airflow.quality_gate import QualityGateOperator, RawGateOperator

settings = get_settings()  # reads the environment only: cheap at parse time
MARTS = Asset(name="tealeaves.marts")


@task
def load_source(source: str) -> list[dict]:
    """Load every export file of one source; unchanged files are skipped, bad rows quarantined.

    A source without exports is empty input, not an error. A file that cannot be loaded is recorded as a
    failed batch with its reason while the others load; the raw gate then holds the run back and names it.
    """
    from tealeaves.load import load_paths

    settings = get_settings()
    results = load_paths(settings.url(), [settings.data_dir / source], source, strict=False, allow_empty=True)
    for r in results:
        if r.error:
            print(r.error)  # names the file and why
    return [
        {
            "file": r.file.name,
            "status": r.status,
            "rows_in": r.rows_in,
            "loaded": r.rows_loaded,
            "rejected": r.rows_rejected,
        }
        for r in results
    ]


@task(outlets=[MARTS])
def publish_marts(**context) -> dict[str, int]:
    """Swap the audited build into `marts` atomically; returns row counts BI now sees."""
    from tealeaves.publications import record_publication
    from tealeaves.publish import publish_marts as publish

    url = get_settings().url()
    tables = publish(url).tables
    record_publication(url, context["run_id"], tables)  # what alerts name as "what BI still reads"
    return tables


@task
def predict_ltv(**context) -> dict:
    """Fit the LTV models on the dbt summaries; a fit the data cannot support is recorded as failed, not raised."""
    from tealeaves.ltv.store import predict_ltv as predict

    record = predict(get_settings().url(), context["run_id"])
    return {"fit_id": record.fit_id, "customers": record.n_customers, "converged": record.converged}


@task
def summarize_run(loaded: list[list[dict]], published: dict[str, int]) -> dict:
    """One record of what this run did, for the log and for XCom readers."""
    files = [f for batch in loaded for f in batch]
    summary = {
        "files_loaded": sum(f["status"] == "loaded" for f in files),
        "files_unchanged": sum(f["status"] == "unchanged" for f in files),
        "files_failed": sum(f["status"] == "failed" for f in files),
        "rows_loaded": sum(f["loaded"] for f in files),
        "rows_rejected": sum(f["rejected"] for f in files),
        "published_tables": published,
    }
    print(summary)
    return summary


@dag(
    schedule="@daily",
    start_date=datetime.combine(DAILY_START, datetime.min.time()),
    catchup=False,
    max_active_runs=1,
    # The data team hears of a failed task once it has used its retries, and of the recovery after a good run;
    # the gates report their own, more precise alerts. A deadline (TEALEAVES_ALERT_DEADLINE_HOURS) flags a late run.
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5), "on_failure_callback": FailureNotifier()},
    on_success_callback=SuccessNotifier(),
    deadline=late_run_deadline(settings.alert_deadline_hours),
    tags=["tealeaves", "daily"],
    doc_md=__doc__,
)
def tealeaves_daily():
    loads = [
        load_source.override(task_id=f"load_{name}", outlets=[Asset(name=f"tealeaves.raw.{name}")])(name)
        for name in sources.sources()
    ]
    # Two dbt builds around the LTV fit (tealeaves.daily_builds): what predict_ltv reads, then what reads it.
    build = dbt_build_group(BUILD_MARTS, settings)
    build_predicted = dbt_build_group(BUILD_PREDICTED_MARTS, settings)
    raw_gate = RawGateOperator(task_id="validate_raw", retries=0)
    gate = QualityGateOperator(task_id="validate_marts", schema=BUILD, retries=0)
    published = publish_marts()
    loads >> raw_gate >> build >> predict_ltv() >> build_predicted >> gate >> published
    summarize_run(loads, published)


tealeaves_daily()
