"""Every DAG file imports cleanly and has the shape the docs describe."""

from __future__ import annotations

import json


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "tealeaves_daily" in dagbag.dag_ids


def test_daily_dag_reads_load_build_audit_publish_summarise(dagbag, manifest):
    dag = dagbag.dags["tealeaves_daily"]
    task_ids = set(dag.task_ids)
    assert {"load_crm", "load_billing", "validate_marts", "publish_marts", "summarize_run"} <= task_ids
    dbt_tasks = {t for t in task_ids if t.startswith("build_marts.")}
    models = [n["name"] for n in json.loads(manifest.read_text())["nodes"].values() if n["resource_type"] == "model"]
    assert "fct_acquisition_cost" in models
    # Every dbt model is rendered as its own run task followed by its tests.
    assert {f"build_marts.{m}.{step}" for m in models for step in ("run", "test")} <= dbt_tasks
    # The gate stands between every dbt task and publishing: nothing reaches `marts` unaudited.
    gate = dag.get_task("validate_marts")
    assert dag.get_task("publish_marts").upstream_task_ids == {"validate_marts"}
    assert all(t.startswith("build_marts.") for t in gate.upstream_task_ids)
    assert dag.schedule == "@daily"
    assert dag.catchup is False
