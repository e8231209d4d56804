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
    nodes = json.loads(manifest.read_text())["nodes"].values()
    models = [n["name"] for n in nodes if n["resource_type"] == "model"]
    assert "fct_acquisition_cost" in models
    # Every dbt model is its own task, and so are its tests ...
    assert {f"build_marts.{m}.run" for m in models} <= dbt_tasks
    tested = {n["depends_on"]["nodes"][0].split(".")[-1] for n in nodes if n["resource_type"] == "test"}
    assert {f"build_marts.{m}.test" for m in tested if m in models} <= dbt_tasks
    # ... a test that reads two models runs on its own, after both are built ...
    multi_parent = [n["name"] for n in nodes if n["resource_type"] == "test" and len(set(n["depends_on"]["nodes"])) > 1]
    assert multi_parent and {f"build_marts.{t}_test" for t in multi_parent} <= dbt_tasks
    # ... and all of them take their state from one `dbt build`, which comes first.
    producer = "build_marts.dbt_producer_watcher"
    assert all(producer in dag.get_task(t).get_flat_relative_ids(upstream=True) for t in dbt_tasks - {producer})
    # The gate stands between every dbt task and publishing: nothing reaches `marts` unaudited.
    gate = dag.get_task("validate_marts")
    assert dag.get_task("publish_marts").upstream_task_ids == {"validate_marts"}
    assert all(t.startswith("build_marts.") for t in gate.upstream_task_ids)
    # The raw gate stands between the loads and dbt: nothing is built from a batch before it is checked.
    raw_gate = dag.get_task("validate_raw")
    assert raw_gate.upstream_task_ids == {t for t in task_ids if t.startswith("load_")}
    first_dbt = {t for t in dbt_tasks if not dag.get_task(t).upstream_task_ids & dbt_tasks}
    assert first_dbt and all(dag.get_task(t).upstream_task_ids == {"validate_raw"} for t in first_dbt)
    assert dag.schedule == "@daily"
    assert dag.catchup is False
