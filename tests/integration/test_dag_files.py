"""Every DAG file imports cleanly and has the shape the docs describe."""

from __future__ import annotations

import json
import re

COSMOS_TASKS = ("dbt_producer_watcher", "dbt_producer_watcher_done")  # the `dbt build` task, and the one after it


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "tealeaves_daily" in dagbag.dag_ids


def test_daily_dag_reads_load_build_predict_audit_publish_summarise(dagbag, manifest):
    dag = dagbag.dags["tealeaves_daily"]
    task_ids = set(dag.task_ids)
    assert {"load_crm", "load_billing", "predict_ltv", "validate_marts", "publish_marts", "summarize_run"} <= task_ids
    first = {t for t in task_ids if t.startswith("build_marts.")}
    second = {t for t in task_ids if t.startswith("build_predicted_marts.")}
    nodes = json.loads(manifest.read_text())["nodes"].values()
    models = [n["name"] for n in nodes if n["resource_type"] == "model"]
    seeds = {f"build_marts.{n['name']}_seed" for n in nodes if n["resource_type"] == "seed"}
    predicted = {"stg_ltv__model_fits", "stg_ltv__customer_predictions", "ltv_model_fit", "fct_predicted_ltv"}
    assert "fct_acquisition_cost" in models and predicted <= set(models)
    # Every dbt model and seed is its own task, in exactly one of the two groups: the models that read the LTV
    # predictions (and what reads them, fct_ltv_cac) after predict_ltv, the rest before. A test has no task: it
    # runs in its group's `dbt build` (test_each_daily_build_runs_its_data_tests_without_a_task_per_test).
    after = predicted | {"fct_ltv_cac"}
    producers = {f"{group}.{task}" for group in ("build_marts", "build_predicted_marts") for task in COSMOS_TASKS}
    assert {f"build_marts.{m}_run" for m in models if m not in after} | seeds == first - producers
    assert {f"build_predicted_marts.{m}_run" for m in after} == second - producers
    assert "build_marts.int_customers_summarised_run" in first
    assert not {t for t in first if any(m in t for m in after)}, "nothing of the first group reads a prediction"
    # ... and every task of a group takes its state from that group's one `dbt build`, which comes first.
    for group, tasks in (("build_marts", first), ("build_predicted_marts", second)):
        producer = f"{group}.dbt_producer_watcher"
        assert all(producer in dag.get_task(t).get_flat_relative_ids(upstream=True) for t in tasks - {producer})
    # predict_ltv runs after every task of the first group and before every task of the second.
    predict = dag.get_task("predict_ltv")
    assert predict.upstream_task_ids and predict.upstream_task_ids <= first
    assert all(t in second for t in predict.downstream_task_ids) and predict.downstream_task_ids
    assert all(dag.get_task(t).upstream_task_ids <= second | {"predict_ltv"} for t in second)
    # The gate stands between every dbt task and publishing: nothing reaches `marts` unaudited.
    gate = dag.get_task("validate_marts")
    assert dag.get_task("publish_marts").upstream_task_ids == {"validate_marts"}
    assert gate.upstream_task_ids and gate.upstream_task_ids <= second
    # The raw gate stands between the loads and dbt: nothing is built from a batch before it is checked.
    raw_gate = dag.get_task("validate_raw")
    assert raw_gate.upstream_task_ids == {t for t in task_ids if t.startswith("load_")}
    first_dbt = {t for t in first if not dag.get_task(t).upstream_task_ids & first}
    assert first_dbt and all(dag.get_task(t).upstream_task_ids == {"validate_raw"} for t in first_dbt)
    assert dag.schedule == "@daily"
    assert dag.catchup is False


def test_each_daily_build_runs_its_data_tests_without_a_task_per_test(dagbag):
    """Cosmos renders no test tasks, and would then keep the tests out of `dbt build` with `--resource-type`
    flags: the producer's command has none, so dbt builds every selected model and runs its tests
    (test_daily_dag.py checks the run's results for every data test)."""
    dag = dagbag.dags["tealeaves_daily"]
    assert not [t for t in dag.task_ids if t.endswith("test")], "no task per test"
    for group in ("build_marts", "build_predicted_marts"):
        producer = dag.get_task(f"{group}.dbt_producer_watcher")
        assert producer.base_cmd == ["build"]
        assert "--resource-type" not in [*producer.add_cmd_flags(), *producer.dbt_cmd_flags]


def test_the_daily_builds_leave_dbt_unit_tests_to_make_test(dagbag, manifest, marts_world):
    """dbt's unit tests check SQL on fixed inputs, so the daily builds skip them; the test session's marts_world
    builds (tests/conftest.py) run every one of them instead (the session's other builds leave them out)."""
    dag = dagbag.dags["tealeaves_daily"]
    for group in ("build_marts", "build_predicted_marts"):
        assert "resource_type:unit_test" in dag.get_task(f"{group}.dbt_producer_watcher").exclude.split()
    every = set(json.loads(manifest.read_text())["unit_tests"])
    world = marts_world[1].parent  # the folder of its exports and of its two builds' targets
    passed = set()
    for build in ("dbt", "dbt-predicted"):
        results = json.loads((world / build / "target" / "run_results.json").read_text(encoding="utf-8"))["results"]
        passed |= {r["unique_id"] for r in results if r["unique_id"].startswith("unit_test.") and r["status"] == "pass"}
    assert every and passed == every


def test_tealeaves_run_marks_success_only_the_tasks_a_scheduler_never_runs(dagbag, manifest):
    """`tealeaves run` has `airflow dags test` mark the tasks matching MARKERS success instead of running them, as a
    scheduler does with an EmptyOperator that has no callback or outlet (Airflow's own predicate decides which). A
    pattern wider than those tasks would skip real work; a narrower one would run markers one by one."""
    from airflow.models.taskinstance import TaskInstance

    from tealeaves.orchestrate import MARKERS

    dag = dagbag.dags["tealeaves_daily"]
    marked = {t for t in dag.task_ids if re.fullmatch(MARKERS, t)}
    never_run = {t.task_id for t in dag.tasks if not TaskInstance.is_task_schedulable(t)}
    assert marked == never_run
    models = [n["name"] for n in json.loads(manifest.read_text())["nodes"].values() if n["resource_type"] == "model"]
    model_tasks = {t for t in dag.task_ids if t.split(".", 1)[-1] in {f"{m}_run" for m in models}}
    assert model_tasks and model_tasks <= marked, "every model's task is a marker"
    assert not {f"{group}.{COSMOS_TASKS[0]}" for group in ("build_marts", "build_predicted_marts")} & marked
