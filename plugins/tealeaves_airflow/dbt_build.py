"""The dbt project as an Airflow task group: one task per model, one `dbt build` underneath, tests included.

Cosmos' watcher mode runs the selected part of the project as a single `dbt build` (dbt's own threads, one
start-up, one parse) in a producer task, and renders every model as a task of its own that takes its state
from that build. Per-model `dbt build` tasks (Cosmos' local mode) spent about 3 s of start-up per task, more
than the models themselves at our sizes.

The data tests run inside that build, where dbt runs each right after the model it tests and skips whatever
is downstream of a failed one, but get no task of their own: the ~120 per-test tasks Cosmos rendered
(TestBehavior.AFTER_EACH) cost as much scheduling as the models' tasks and showed nothing the producer's
failure does not say (a failed test fails the producer, which names it; every task after it ends
upstream_failed). Cosmos offers no watcher setting for "tests in the build, no test tasks": BUILD is refused
in watcher mode, and NONE adds `--resource-type model/seed/snapshot` to the producer's command, which would
leave the tests out of the build. So the group renders with NONE and those flags are taken off again.

dbt runs in a process of its own (Cosmos' SUBPROCESS invocation), which Cosmos follows through dbt's JSON log
lines. Inside the task's process (DBT_RUNNER), Cosmos handles every dbt event, debug ones included, in dbt's own
threads and pushes XComs from there while the thread waits: the same build took 35 s of dbt's time there against
10 s in a subprocess, run back to back at 1k customers. A subprocess ends with only its exit code, so the
producer names the failed models and tests from dbt's run_results.json itself, each failed test with the first
rows its query returns (which column failed which check, on how many rows): the alert quotes them.

The per-model and per-seed tasks are markers (EmptyOperator) placed after the producer in the models' lineage:
they show where each model sits and end with the build's outcome, success when it passed and upstream_failed
when it failed. Cosmos' own watcher tasks would read each model's status from the producer's XComs, but after a
build that passed every status is success (a failed model or test fails the build), so reading them told
nothing the producer's state does not; each still cost a task run, 0.2 to 0.3 s inside `airflow dags test`, a
worker process under a scheduler, and Cosmos registered an Airflow asset per model under the server's host and
port for tables BI does not read (the published marts are the `tealeaves.marts` asset, after the gate). An
EmptyOperator is never run by the scheduler, and `tealeaves run` marks them the same way
(tealeaves.orchestrate.MARKERS). They wait for the producer to finish rather than show live progress: a run that
executes one task at a time (`dag.test()`, `airflow dags test`, a single-slot executor) would otherwise park on
a task waiting for a build that never gets its turn.

The builds leave out dbt's unit tests, as dbt's docs advise for production: they test the SQL's logic on fixed
inputs, not the day's data, so they cannot fail on a delivery, and cost seconds every run. `make test` runs them
all (tests/conftest.py builds the whole project with dbt).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import psycopg
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk.exceptions import AirflowException
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import DbtResourceType, ExecutionMode, InvocationMode, LoadMode, TestBehavior

from tealeaves.config import DBT_PROFILE, DBT_TARGET, Settings, get_settings
from tealeaves.daily_builds import NO_FILE_LOG, PRODUCER, Build
from tealeaves.dbt_cli import dbt_executable

FAILED = ("error", "fail", "runtime error")  # run_results statuses that fail a build
RESOURCE_TYPE = "--resource-type"
QUOTED_ROWS = 5  # failing rows of a failed test the alert quotes


def dbt_build_group(build: Build, settings: Settings) -> DbtTaskGroup:
    """`dbt build` of the selected nodes and their data tests, with a task per model, states from that one build."""
    group_id = build.group_id
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(
            dbt_project_path=settings.dbt_project_dir,
            manifest_path=settings.dbt_manifest,
            install_dbt_deps=False,
        ),
        # The project's own profiles.yml (credentials from TEALEAVES_DBT_* in the environment), the one `dbt parse`
        # used for the manifest: the same profile and target let the build reuse dbt's partial parse instead of a
        # full one (tealeaves.orchestrate.build_manifest).
        profile_config=ProfileConfig(
            profile_name=DBT_PROFILE,
            target_name=DBT_TARGET,
            profiles_yml_filepath=settings.dbt_project_dir / "profiles.yml",
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            select=list(build.select),
            exclude=list(build.exclude),
            test_behavior=TestBehavior.NONE,  # no test tasks; the tests stay in the build (build_tests_too)
            node_converters={DbtResourceType.MODEL: node_marker, DbtResourceType.SEED: node_marker},
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=dbt_executable(),  # this environment's tealeaves-dbt, as the CLI's
        ),
        default_args={"retries": 0},
        operator_args={"emit_datasets": False},  # no asset per model: nothing reads marts_build (see above)
    )
    producer = group.children[f"{group_id}.{PRODUCER}"]
    producer.dbt_cmd_flags = [*build_tests_too(producer.dbt_cmd_flags), *NO_FILE_LOG]
    producer.callback = name_failed_nodes  # Cosmos calls it after dbt ends, before it judges the exit code
    for task in list(group.get_roots()):
        if task is not producer:
            producer >> task
    return group


def node_marker(dag, task_group, task_id: str, **_: object) -> EmptyOperator:
    """The task of one model or seed: its place in the lineage, ending with the group's build (see above)."""
    return EmptyOperator(task_id=task_id, dag=dag, task_group=task_group)


def build_tests_too(flags: Sequence[str]) -> list[str]:
    """The producer's dbt flags without the `--resource-type` pairs TestBehavior.NONE adds to keep tests out.

    Without any `--resource-type`, `dbt build` runs every resource type selected, data tests included; the unit
    tests stay out through the group's exclude (NOT_IN_PRODUCTION).
    """
    kept: list[str] = []
    pairs = iter(flags)
    for flag in pairs:
        if flag == RESOURCE_TYPE:
            next(pairs, None)  # and its value
        else:
            kept.append(flag)
    return kept


def name_failed_nodes(project_dir: str, **_: object) -> None:
    """Fail the producer with each failed model and test and dbt's message, read from run_results.json."""
    results = Path(project_dir) / "target" / "run_results.json"
    if not results.exists():
        return  # dbt stopped before running anything: Cosmos reports the exit code and the log has the reason
    failed = [r for r in json.loads(results.read_text())["results"] if r["status"] in FAILED]
    if failed:
        lines = []
        for result in failed:
            lines.append(f"{result['unique_id']} ({result['status']}): {result.get('message') or 'see the log'}")
            if result["status"] == "fail" and result.get("compiled_code"):
                lines += [f"    {row}" for row in failing_rows(result["compiled_code"])]
        raise AirflowException("dbt build failed:\n" + "\n".join(lines))


def failing_rows(test_sql: str) -> list[str]:
    """The first rows a failed data test's query returns now, as the gates' alerts quote rows; a reason if it
    cannot run.

    A test's rows say what its name does not: which column failed which check, on how many rows, with which
    values (tests/generic/column_values.sql). The tables it read are still there: a failed build publishes nothing.
    """
    from tealeaves.alerts.content import row_text  # here: the alerts' imports cost DAG parsing 0.6 s

    try:
        with psycopg.connect(get_settings().url(), connect_timeout=10) as conn:
            cursor = conn.execute(f"select * from ({test_sql}) as failing limit {QUOTED_ROWS + 1}")
            names = [column.name for column in cursor.description or ()]
            rows = cursor.fetchall()
    except psycopg.Error as error:
        return [f"(its failing rows could not be read: {str(error).strip().splitlines()[0]})"]
    quoted = [row_text(dict(zip(names, row, strict=True))) for row in rows]
    return quoted[:QUOTED_ROWS] + (["..."] if len(rows) > QUOTED_ROWS else [])
