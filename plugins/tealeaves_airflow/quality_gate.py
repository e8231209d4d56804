"""The quality gates as Airflow operators: validate with the GX suites, alert the data team, fail on a blocking
failure.

Each gate reports its verdict to `tealeaves.alerts` whether it passed or not: a failure alerts once, a pass
after a failure sends the recovery. The task then fails with `ReportedFailure`, which the failure notifier
knows was already told, so on-call gets one precise alert instead of two.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseOperator

from tealeaves_airflow.notifiers import ReportedFailure

log = logging.getLogger(__name__)


def _report(report, *args, **kwargs) -> None:
    """A broken alert path must never change a gate's verdict; it is logged loudly instead."""
    try:
        report(*args, **kwargs)
    except Exception:
        log.exception("could not send the quality alert; the gate's verdict stands")


class QualityGateOperator(BaseOperator):
    """Runs every suite in expectations/marts/ against `schema`; results land in the `quality` schema.

    A blocking failure fails the task without retries (the data will not fix itself), so nothing downstream
    runs and the previously published marts stay in place. Warnings are logged and returned.
    """

    template_fields = ("schema",)
    ui_color = "#e8f4ea"

    def __init__(self, *, schema: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.schema = schema

    def execute(self, context) -> dict[str, Any]:
        from tealeaves.alerts import report_gate
        from tealeaves.config import get_settings
        from tealeaves.quality import run_gate

        settings = get_settings()
        result = run_gate(settings.url(), self.schema, run_id=context["run_id"], docs_dir=settings.docs_dir / "quality")
        self.log.info("%s", result.summary())
        _report(report_gate, settings, self.dag_id, context["run_id"], result, task_id=self.task_id)
        if not result.passed:
            raise ReportedFailure(result.summary())
        return {"passed": True, "warnings": len(result.warnings), "run_id": result.run_id}


class RawGateOperator(BaseOperator):
    """Validates every batch loaded since the last check, before dbt reads any of it.

    A failed batch is marked failed in `raw.load_batches` (staging skips it) and the task fails, so nothing is
    built from the new data; it keeps failing until a corrected file replaces the bad one.
    """

    ui_color = "#e8f4ea"

    def execute(self, context) -> dict[str, Any]:
        from tealeaves.alerts import report_raw_gate
        from tealeaves.config import get_settings
        from tealeaves.quality.raw_gate import run_raw_gate

        settings = get_settings()
        result = run_raw_gate(settings.url(), f"{context['run_id']}:raw", docs_dir=settings.docs_dir / "quality")
        self.log.info("%s", result.summary())
        _report(report_raw_gate, settings, self.dag_id, context["run_id"], result, task_id=self.task_id)
        if not result.passed:
            raise ReportedFailure(result.summary())
        return {"passed": True, "batches": len(result.passed_batches), "warnings": len(result.gate.warnings)}
