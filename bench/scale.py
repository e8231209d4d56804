"""Benchmark: the daily pipeline at growing company sizes, step by step and dbt model by dbt model.

Not a test. For each size, in a fresh database (`tealeaves_scale`, dropped and made again on the warehouse's
server, never the warehouse itself): `tealeaves generate` writes the sample company's exports, then the daily
DAG's steps run in its order, each in a process of its own as Airflow runs a task, calling what the DAG's
tasks call: `load_paths` per source, `run_raw_gate`, `dbt build` without the predicted-LTV marts, `predict_ltv`,
`dbt build` of those marts, `run_gate` on `marts_build`, `publish_marts` with `record_publication`.

Per step it prints seconds, rows, the peak RSS of the step's process tree (dbt included) and the peak memory
of the PostgreSQL server (PSS summed over the postmaster and its backends: summed RSS would count
shared_buffers once per backend). Per dbt model: execution_time from dbt's run_results.json and the rows it
built. Then the database's size, the exports' disk use, and the growth ratio between consecutive sizes. Issue
15's goal: from 10k to 100k customers no model grows more than 13x, i.e. at most 1.3 times the growth in
customers; a ratio over that is flagged when the larger time is at least NOISE_FLOOR_S (below it, dbt's own
per-node overhead dominates and the ratio says nothing).

A model's growth is judged on its time alone. The DAG's builds run two models at once on two cores, and a model
timed beside another is timed with whatever that other one does: with the same SQL and settings,
int_customers_acquired grew 17.1x in one run (c8c0781) and 12.0x in the next (0f5e271). So after the day's steps,
unless --no-models-alone or --next-day, both builds run once more from scratch one node at a time (`dbt build
--threads 1 --full-refresh`, the steps `build_marts_alone` and `build_predicted_marts_alone`, which no DAG runs),
and the growth per model is the ratio of those times; the builds' own per-model times and their ratios stay in the
JSON and the tables beside them. The data tests run too, in the DAG's order: the first query to read a table just
written sets its rows' hint bits (max() over a fresh copy of the 100k stg_support__ticket_comments took 527 ms the
first time, 142 ms after), so in a `dbt run` without the tests a model paid what in the DAG a test before it pays
(int_support_as_of: 2.3 s, against 0.5 s in the build).

    export TEALEAVES_HOME=... TEALEAVES_PG_PORT=...   # whichever warehouse server to measure on
    .venv/bin/python bench/scale.py --customers 1000,10000,100000 --months 24 --out results.json

With --airflow, each size's exports also go through the DAG itself: `tealeaves run --data <exports>` in a home
of its own (a fresh embedded server on a free port, its own Airflow metadata, stopped afterwards), timed whole;
the DAG run's wall time (first task's start to last task's end), the two dbt producer tasks' durations and
dbt's own elapsed time inside them come from Airflow's task_instance table and the run's log, beside the dbt
time of the same builds outside Airflow. It does the whole pipeline's work a second time, so it is off by default.
With --next-day too, `tealeaves run` takes day one, day one again (nothing new, so that the next build starts
from retired marts) and the next day in the same home; the first run and the next day's are measured.

What it does not measure (yet):
- Per-step memory inside the DAG: `tealeaves run` is one process tree (`airflow dags test` runs every task in
  it), so --airflow gives its peak only, and not the DAG's PostgreSQL server's.
- Alert delivery (the gates' `report_gate` calls, SMTP and Slack): the bench sends no alert.
- A second day, unless --next-day: then day one is built, built and published again with nothing new (so that
  the next build starts from retired marts, as a daily run in steady state does), the next day's support and
  billing exports (tealeaves.generate.next_day; --next-day-days of them, one by default) load and the same build
  runs incrementally, and a full rebuild of that warehouse follows for comparison.
- Timings are wall clock on a shared machine: the JSON keeps the load average before and after each size.
- PostgreSQL's memory apart from the bench's own work: its PSS counts the shared buffers that earlier work on
  the same server touched (a smaller size's included). Start the bench on a freshly started server to compare runs.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from importlib.metadata import version
from itertools import pairwise
from pathlib import Path

import psutil
import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

import tealeaves
from tealeaves.airflow_env import airflow_environ
from tealeaves.config import Settings, get_settings
from tealeaves.daily_builds import BUILDS, NO_FILE_LOG, PRODUCER
from tealeaves.db.setup import drop_database, scratch_database
from tealeaves.dbt_cli import dbt_executable
from tealeaves.generate.next_day import split_next_day
from tealeaves.orchestrate import start_server
from tealeaves.publish import BUILD

BENCH_DB = "tealeaves_scale"
DAY_ONE_DB = "tealeaves_scale_day_one"  # --keep-day-one: what bench/replay_day.py replays the next day on
DBT_FINISHED = re.compile(r"Finished running .*? in \d+ hours \d+ minutes and [\d.]+ seconds \(([\d.]+)s\)")
GOAL_FACTOR = 1.3  # issue 15: 13x for 10x the customers
NOISE_FLOOR_S = 1.0
SAMPLE_EVERY_S = 0.2
MB = 1 << 20
BIN = Path(sys.executable).parent
PACKAGE_ROOT = Path(tealeaves.__file__).resolve().parents[1]

# The DAG's order (dags/tealeaves_daily.py): load → validate_raw → build_marts → predict_ltv →
# build_predicted_marts → validate_marts → publish_marts. `generate` makes the input and comes first.
# The DAG's builds, as tealeaves.daily_builds says: what they leave out, and no log file.
DBT_STEPS = {build.group_id: ["build", *build.selection(), *NO_FILE_LOG] for build in BUILDS}
DAY_BUILDS = tuple(build.group_id for build in BUILDS)
# Every model of the day's builds again, one at a time and from scratch: the time of each alone (see above).
ALONE_STEPS = tuple(f"{step}_alone" for step in DAY_BUILDS)
DBT_STEPS |= {
    alone: [*DBT_STEPS[step], "--threads", "1", "--full-refresh"]
    for step, alone in zip(DAY_BUILDS, ALONE_STEPS, strict=True)
}
PYTHON_STEPS = ("load", "validate_raw", "predict_ltv", "validate_marts", "publish_marts")
# --next-day: the first steps run on day one's exports (tealeaves.generate.next_day), then the next day's files
# load, and the same build runs incrementally; a full rebuild of the same warehouse is the yardstick (goal:
# the incremental build at most 10% of it).
# Before it, day one is built and published once more with nothing new (a day without exports): from the second
# publish on, the next build starts from the marts the publish retired (macros/reuse_retired_marts.sql), as every
# daily run does in steady state.
NEXT_DAY = "_next_day"
SAME_DAY = "_same_day"
DAILY_BUILD = f"build_marts{NEXT_DAY}"  # the incremental build of the next day
FULL_REBUILD = "build_marts_full_refresh"  # its yardstick: the same warehouse built again from scratch
DBT_STEPS |= {
    f"build_marts{SAME_DAY}": DBT_STEPS["build_marts"],
    DAILY_BUILD: DBT_STEPS["build_marts"],
    FULL_REBUILD: [*DBT_STEPS["build_marts"], "--full-refresh"],
}
NEXT_DAY_STEPS = (
    f"build_marts{SAME_DAY}",
    f"publish_marts{SAME_DAY}",
    f"load{NEXT_DAY}",
    f"validate_raw{NEXT_DAY}",
    DAILY_BUILD,
    FULL_REBUILD,
)
STEPS = (
    "generate",
    "load",
    "validate_raw",
    "build_marts",
    "predict_ltv",
    "build_predicted_marts",
    "validate_marts",
    "publish_marts",
)


# -- one step, inside its own process ---------------------------------------------------------------------
def run_step(step: str, data: Path, run_id: str, docs: Path) -> dict:
    """What the DAG's task for `step` calls, on the warehouse TEALEAVES_DATABASE_URL names; returns its counts.

    `work_seconds` is the call alone, without the process's start-up and imports (GX takes seconds to import).
    """
    from tealeaves import sources

    url = get_settings().url()
    started = time.perf_counter()
    if step == "load":
        from tealeaves.load import load_paths

        per_source = {}
        for source in sources.sources():
            begun = time.perf_counter()
            results = load_paths(url, [data / source], source, strict=False, allow_empty=True)
            per_source[source] = {
                "seconds": round(time.perf_counter() - begun, 3),
                "files": len(results),
                "failed_files": sum(r.status == "failed" for r in results),
                "rows_in": sum(r.rows_in for r in results),
                "rows_loaded": sum(r.rows_loaded for r in results),
                "rows_rejected": sum(r.rows_rejected for r in results),
            }
        outcome = {
            "rows": sum(s["rows_loaded"] for s in per_source.values()),
            "detail": {"per_source": per_source, "rejected": sum(s["rows_rejected"] for s in per_source.values())},
        }
    elif step == "validate_raw":
        from tealeaves.quality.raw_gate import run_raw_gate

        result = run_raw_gate(url, f"{run_id}:raw", docs_dir=docs)
        if not result.passed:
            raise SystemExit(result.summary())
        with psycopg.connect(url) as conn:
            rows = conn.execute("select coalesce(sum(rows_loaded), 0) from raw.load_batches").fetchone()[0]
        outcome = {"rows": int(rows), "detail": {"batches": len(result.passed_batches)}}
    elif step == "predict_ltv":
        from tealeaves.ltv.store import predict_ltv

        record = predict_ltv(url, run_id)
        outcome = {
            "rows": len(record.predictions),
            "detail": {"customers": record.n_customers, "converged": record.converged, "message": record.message},
        }
    elif step == "validate_marts":
        from tealeaves.quality import run_gate

        result = run_gate(url, BUILD, run_id=run_id, docs_dir=docs)
        if not result.passed:
            raise SystemExit(result.summary())
        expectations = sum(len(s.outcomes) for s in result.suites)
        outcome = {"rows": None, "detail": {"suites": len(result.suites), "expectations": expectations}}  # rows: below
    elif step == "publish_marts":
        from tealeaves.publications import record_publication
        from tealeaves.publish import publish_marts

        tables = publish_marts(url).tables
        record_publication(url, run_id, tables)
        outcome = {"rows": sum(tables.values()), "detail": {"tables": len(tables)}}
    else:
        raise SystemExit(f"unknown step {step!r}; one of {', '.join(PYTHON_STEPS)}")
    outcome["work_seconds"] = round(time.perf_counter() - started, 3)
    return outcome


# -- measuring a process tree -------------------------------------------------------------------------------
@dataclass
class Measured:
    seconds: float
    peak_rss: int  # bytes: the step's process and its children, summed, at the highest sample
    server_peak: int | None  # bytes: PostgreSQL's PSS, summed over its processes, at the highest sample
    returncode: int
    cpu_seconds: float  # user and system CPU of the step's process and the children it waited for
    machine_busy_seconds: float  # CPU seconds every core spent outside idle meanwhile (the server's among them)


def tree_rss(root: psutil.Process) -> int:
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # ended between listing and reading
            total += proc.memory_info().rss
    return total


def server_pss(postmaster: psutil.Process | None) -> int | None:
    if postmaster is None:
        return None
    total = 0
    try:
        processes = [postmaster, *postmaster.children(recursive=True)]
    except psutil.Error:
        return None
    for proc in processes:
        try:
            total += proc.memory_full_info().pss
        except psutil.NoSuchProcess:
            pass
        except psutil.AccessDenied:
            return None  # another user's server: not ours to read
    return total


def run_measured(command: list[str], env: dict[str, str], log: Path, postmaster: psutil.Process | None) -> Measured:
    """Run `command`, sampling its tree's RSS and the server's PSS every SAMPLE_EVERY_S.

    Sampled only: the child's ru_maxrss from wait4 is no floor, because Linux carries the forking process's
    high-water mark into the child across exec, so every step reported at least this bench's own RSS (1,362 MB
    for the steps after the 100k load, whatever they used). A peak shorter than the interval can be missed."""
    started = time.perf_counter()
    busy_before = _busy_seconds()
    with open(log, "w") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    root = psutil.Process(proc.pid)
    peak_rss, server_peak = 0, None
    stop = threading.Event()

    def sample_server() -> None:  # PSS reads every backend's smaps: its own thread keeps the RSS samples regular
        nonlocal server_peak
        while not stop.is_set():
            pss = server_pss(postmaster)
            if pss is not None:
                server_peak = max(server_peak or 0, pss)
            stop.wait(SAMPLE_EVERY_S)

    sampler = threading.Thread(target=sample_server, daemon=True)
    sampler.start()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        with contextlib.suppress(psutil.Error):
            peak_rss = max(peak_rss, tree_rss(root))
        time.sleep(SAMPLE_EVERY_S)
    seconds = time.perf_counter() - started
    busy = _busy_seconds() - busy_before
    stop.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(seconds, peak_rss, server_peak, proc.returncode, cpu, busy)


def _busy_seconds() -> float:
    """CPU seconds the machine's cores have spent at work since boot (not idle, waiting or stolen), whoever worked:
    set against a step's own CPU, what the server and everything else did meanwhile. Guest time is left out, as
    Linux counts it in user and nice already."""
    times = psutil.cpu_times()
    return sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq"))


# -- one size -------------------------------------------------------------------------------------------------
@dataclass
class StepResult:
    step: str
    seconds: float  # wall time of the step's process, start-up and imports included
    work_seconds: float  # the step's own call (dbt: its run_results elapsed_time; generate: the wall time)
    rows: int | None
    peak_rss_mb: float
    server_peak_pss_mb: float | None
    detail: dict = field(default_factory=dict)
    cpu_seconds: float | None = None  # the step's process tree (None in results written before it was kept)
    machine_busy_seconds: float | None = None  # every core's, meanwhile: the server's and any other process's too


@dataclass
class ModelResult:
    model: str
    build: str  # the DAG step that built it
    materialized: str
    seconds: float
    rows: int


@dataclass
class SizeResult:
    customers_requested: int
    customers_generated: int
    months: int | None  # None with --end
    start: str
    steps: list[StepResult]
    models: list[ModelResult]
    database_bytes: int
    exports_bytes: int  # disk used (allocated blocks) by the export files, truth.json left out
    load_average_before: tuple[float, float, float]
    load_average_after: tuple[float, float, float]
    airflow: dict | None = None  # the --airflow pass: `tealeaves run` on the same exports
    end: str | None = None  # --end: the day the data stops, inside a month; None: --months after the start


def postmaster_of(url: str) -> psutil.Process | None:
    """The server's main process, when it runs on this machine and we may see it."""
    try:
        with psycopg.connect(url) as conn:
            backend = conn.execute("select pg_backend_pid()").fetchone()[0]
        parent = psutil.Process(backend).parent()
        return parent if parent is not None and "postgres" in parent.name() else None
    except (psutil.Error, psycopg.Error):
        return None


def step_environ(url: str, dbt_dir: Path) -> dict[str, str]:
    """The environment the DAG's tasks run in (tealeaves.airflow_env), pointed at the bench's database, with dbt's
    target and logs in the bench's folder so the project's own target/ is left alone."""
    env = {**os.environ, **airflow_environ(Settings(database_url=url))}
    env.update(DBT_TARGET_PATH=str(dbt_dir / "target"), DBT_LOG_PATH=str(dbt_dir / "logs"))
    # The steps import the same tealeaves as this process, wherever it came from (a checkout, a worktree).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
    return env


def schema_rows(url: str, schema: str) -> int:
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select table_name from information_schema.tables where table_schema = %s and table_type = 'BASE TABLE'",
            [schema],
        ).fetchall()
        query = sql.SQL("select count(*) from {}")
        return sum(conn.execute(query.format(sql.Identifier(schema, t))).fetchone()[0] for (t,) in tables)


def disk_used(folder: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file() and p.name != "truth.json")


def dbt_models(dbt_dir: Path, build: str, url: str, keep: Path) -> tuple[list[ModelResult], dict]:
    """Each model of the build just run, with its time from run_results.json and its row count now."""
    target = dbt_dir / "target"
    shutil.copy(target / "run_results.json", keep / f"run_results-{build}.json")
    results = json.loads((target / "run_results.json").read_text())
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    models: list[ModelResult] = []
    others: dict[str, list[float]] = {"test": [], "unit_test": [], "seed": []}
    with psycopg.connect(url) as conn:
        for r in results["results"]:
            kind = r["unique_id"].split(".", 1)[0]
            if kind in others:
                others[kind].append(r["execution_time"])
            if kind != "model" or r["status"] != "success":
                continue
            rows = conn.execute(f"select count(*) from {r['relation_name']}").fetchone()[0]  # noqa: S608 - dbt's name
            node = nodes[r["unique_id"]]
            models.append(ModelResult(node["name"], build, node["config"]["materialized"], r["execution_time"], rows))
    detail: dict = {"models": len(models), "models_seconds": round(sum(m.seconds for m in models), 3)}
    for kind, times in others.items():
        detail |= {f"{kind}s": len(times), f"{kind}s_seconds": round(sum(times), 3)}
    return models, {**detail, "elapsed_time": results["elapsed_time"]}


def run_size(
    settings: Settings,
    customers: int,
    months: int | None,
    start: date,
    seed: int,
    work: Path,
    console: Console,
    airflow: bool = False,
    next_day: int = 0,
    models_alone: bool = True,
    end: date | None = None,
    keep_day_one: bool = False,
) -> SizeResult:
    """One size, from generating its exports to publishing; `next_day`: the days of exports the next day's
    build adds (0: no next day)."""
    folder = work / f"scale-{customers}"
    shutil.rmtree(folder, ignore_errors=True)
    exports, logs, docs, dbt_dir = folder / "exports", folder / "logs", folder / "docs", work / "dbt"
    for path in (logs, docs):
        path.mkdir(parents=True)
    load_before = os.getloadavg()
    url = scratch_database(settings, BENCH_DB)
    env = step_environ(url, dbt_dir)
    postmaster = postmaster_of(url)
    run_id = f"bench_scale__{customers}"
    steps: list[StepResult] = []
    models: list[ModelResult] = []
    day_one, day_two = folder / "day1", folder / "day2"
    # --next-day's builds start from what the day's publish retired: a build between them would change that
    alone_steps = ALONE_STEPS if models_alone and not next_day else ()
    for step in STEPS + alone_steps + (NEXT_DAY_STEPS if next_day else ()):
        console.log(f"{customers:,} customers: {step}")
        data = day_two if step.endswith(NEXT_DAY) else (day_one if next_day else exports)
        if step == "generate":
            command = [
                str(BIN / "tealeaves"),
                "generate",
                "--out",
                str(exports),
                "--customers",
                str(customers),
                *(["--end", end.isoformat()] if end else ["--months", str(months)]),
                "--start",
                start.isoformat(),
                "--seed",
                str(seed),
            ]
        elif step in DBT_STEPS:
            command = [dbt_executable(), *DBT_STEPS[step], "--project-dir", str(settings.dbt_project_dir)]
        else:
            result_file = folder / f"{step}.json"
            command = [
                sys.executable,
                __file__,
                "--step",
                step.removesuffix(NEXT_DAY).removesuffix(SAME_DAY),
                "--data",
                str(data),
                "--run-id",
                run_id,
                "--docs",
                str(docs),
                "--result",
                str(result_file),
            ]
        measured = run_measured(command, env, logs / f"{step}.log", postmaster)
        if measured.returncode != 0:
            tail = "\n".join((logs / f"{step}.log").read_text(errors="replace").splitlines()[-30:])
            raise SystemExit(f"{step} failed at {customers:,} customers (exit {measured.returncode}):\n{tail}")
        if step == "generate":
            if next_day:
                split_next_day(exports, day_one, day_two, days_before_end=next_day)
            report = json.loads((exports / "truth.json").read_text())
            generated = report["customers"]
            outcome = {
                "rows": sum(f.get("records", 0) for f in report["files"].values()),
                "work_seconds": measured.seconds,
                "detail": {"customers": generated, "leads": report["leads"], "files": len(report["files"])},
            }
        elif step in DBT_STEPS:
            built, detail = dbt_models(dbt_dir, step, url, folder)
            models += built
            outcome = {
                "rows": sum(m.rows for m in built if m.materialized != "view"),
                "work_seconds": detail["elapsed_time"],
                "detail": detail,
            }
        else:
            outcome = json.loads(result_file.read_text())
            if step == "validate_marts":
                outcome["rows"] = schema_rows(url, BUILD)  # what the gate read: every table it may publish
        if keep_day_one and step == f"publish_marts{SAME_DAY}":  # between two measured steps, timed by neither
            scratch_database(settings, DAY_ONE_DB, template=BENCH_DB)
        steps.append(
            StepResult(
                step,
                round(measured.seconds, 3),
                round(outcome["work_seconds"], 3),
                outcome["rows"],
                round(measured.peak_rss / MB, 1),
                None if measured.server_peak is None else round(measured.server_peak / MB, 1),
                outcome.get("detail", {}),
                round(measured.cpu_seconds, 1),
                round(measured.machine_busy_seconds, 1),
            )
        )
    with psycopg.connect(url) as conn:
        database_bytes = conn.execute("select pg_database_size(current_database())").fetchone()[0]
    load_after = os.getloadavg()
    dag = None
    if airflow:
        console.log(f"{customers:,} customers: the Airflow DAG (tealeaves run)")
        # with a next day: day one, day one again (nothing new: the next build starts from retired marts, as in
        # steady state), then the next day, the daily DAG run the goal is about
        dag = run_dag([day_one, None, day_two] if next_day else [exports], folder)
    return SizeResult(
        customers,
        generated,
        months,
        start.isoformat(),
        steps,
        models,
        database_bytes,
        disk_used(exports),
        load_before,
        load_after,
        dag,
        end.isoformat() if end else None,
    )


# -- the DAG itself ----------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_dag(runs: list[Path | None], folder: Path) -> dict:
    """`tealeaves run --data <exports>` once per item of `runs`, in a home of its own (its own embedded server,
    warehouse and Airflow metadata, so neither the bench's database nor the user's Airflow history is touched),
    then the DAG run's wall time and its dbt producer tasks' durations from Airflow's task_instance table: the
    first run's, and with more than one the last's as `next_day`.

    Every run reads one folder, as a company's daily runs do (the product refuses a warehouse fed from two): each
    item's files are linked into it before its run (None: nothing new)."""
    from tealeaves.db import EmbeddedPostgres

    home = folder / "airflow-home"
    exports = folder / "dag-exports"
    for leftover in (home, exports):  # a home and folder of this call's own; a link is never written through
        shutil.rmtree(leftover, ignore_errors=True)
    port = free_port()
    mine = ("TEALEAVES_HOME", "TEALEAVES_PG_PORT", "TEALEAVES_DATABASE_URL", "TEALEAVES_DATA", "TEALEAVES_ALERT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith((*mine, "AIRFLOW"))}  # no alert leaves the bench
    env.update(TEALEAVES_HOME=str(home), TEALEAVES_PG_PORT=str(port))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
    settings = Settings(home=home, pg_port=port, database_url=None)
    server = EmbeddedPostgres(settings.pg_data, port, settings.pg_password_file)
    measured_runs = []
    try:
        for number, new_files in enumerate(runs, start=1):
            if new_files is not None:
                shutil.copytree(new_files, exports, copy_function=link_or_copy, dirs_exist_ok=True)
            log = folder / "logs" / f"tealeaves-run-{number}.log"
            measured = run_measured([str(BIN / "tealeaves"), "run", "--data", str(exports)], env, log, None)
            if measured.returncode != 0:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                raise SystemExit(f"tealeaves run failed (exit {measured.returncode}):\n{tail}")
            if number in (1, len(runs)):
                measured_runs.append(dag_run_measured(settings, home, measured))
    finally:
        server.stop()
    first = measured_runs[0]
    return {**first, "next_day": measured_runs[-1]} if len(runs) > 1 else first


def link_or_copy(source: str, target: str) -> None:
    """A hard link where the file system allows one (the exports take gigabytes), else a copy; never over a file
    that exists (the file it links to may be the source's)."""
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.copy2(source, target)


def dag_run_measured(settings: Settings, home: Path, measured: Measured) -> dict:
    """The latest DAG run's wall time, task times and dbt's own elapsed time (from that run's log)."""
    from tealeaves.orchestrate import DAG_ID

    with psycopg.connect(settings.url(settings.airflow_metadata)) as conn:
        run_id = conn.execute(
            "select run_id from dag_run where dag_id = %s order by id desc limit 1", [DAG_ID]
        ).fetchone()[0]
        # From the first task's start to the last one's end: `airflow dags test` dates the run itself from its
        # logical date's midnight.
        dag_seconds = conn.execute(
            "select extract(epoch from max(end_date) - min(start_date))::float8 from task_instance"
            " where dag_id = %s and run_id = %s",
            [DAG_ID, run_id],
        ).fetchone()[0]
        tasks = dict(
            conn.execute(
                "select task_id, coalesce(duration, 0)::float8 from task_instance where dag_id = %s and run_id = %s",
                [DAG_ID, run_id],
            ).fetchall()
        )
    dbt = {task: seconds for task, seconds in tasks.items() if task.endswith(f".{PRODUCER}")}
    # dbt's own elapsed time for each build, from its closing line in the run's log: the producer task's duration
    # less this is Cosmos' share (cloning the project, parsing it, relaying every node's state).
    # (the run's own log: `tealeaves run` writes one per run date, anew each run)
    newest = max((home / "logs").glob(f"{DAG_ID}-*.log"), key=lambda path: path.stat().st_mtime)
    log = newest.read_text(errors="replace")
    dbt_elapsed = [float(seconds) for seconds in DBT_FINISHED.findall(log)]
    # Each build should reuse the partial parse the run made first (tealeaves.orchestrate.build_manifest); dbt says
    # when it cannot, and why.
    full_parses = sorted(set(re.findall(r"Unable to do partial parsing because ([^\[\n]*?)\s*\[", log)))
    return {
        "tealeaves_run_seconds": round(measured.seconds, 3),
        "dag_seconds": round(dag_seconds, 3),
        "dbt_seconds": round(sum(dbt.values()), 3),
        "other_tasks_seconds": round(sum(tasks.values()) - sum(dbt.values()), 3),
        "peak_rss_mb": round(measured.peak_rss / MB, 1),
        "dbt_tasks": dbt,
        "dbt_elapsed_seconds": dbt_elapsed,
        "dbt_full_parse_reasons": full_parses,
        "tasks": len(tasks),
        "slowest_tasks": dict(sorted(tasks.items(), key=lambda item: item[1], reverse=True)[:10]),
    }


# -- machine, growth, tables ------------------------------------------------------------------------------------
def machine_facts(settings: Settings, url: str) -> dict:
    with psycopg.connect(url) as conn:
        pg = {
            name: conn.execute(sql.SQL("show {}").format(sql.Identifier(name))).fetchone()[0]
            for name in ("server_version", "shared_buffers", "work_mem", "max_parallel_workers_per_gather")
        }
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=settings.project_root, capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "cpu": cpu,
        "ram_gb": round(psutil.virtual_memory().total / (1 << 30), 1),
        "platform": f"{platform.system()} {platform.machine()}",  # not the kernel build: it can name the host
        "python": platform.python_version(),
        "postgresql": pg,
        "dbt": {package: version(package) for package in ("dbt-core", "dbt-postgres", "great-expectations")},
        "dbt_threads": 2,  # dbt_project/profiles.yml
        "tealeaves_commit": commit,
    }


def ratios(before: dict[str, float], after: dict[str, float], goal: float) -> dict[str, dict]:
    """after / before per name; over the goal only when the larger time is past the noise floor."""
    return {
        name: {
            "ratio": round(after[name] / before[name], 2),
            "over_goal": after[name] / before[name] > goal and after[name] >= NOISE_FLOOR_S,
        }
        for name in after
        if before.get(name)
    }


def day_build(size: SizeResult) -> list[ModelResult]:
    """Each model's run in the day's full build (build_marts, build_predicted_marts), not in --next-day's builds."""
    return [m for m in size.models if m.build in DAY_BUILDS]


def alone(size: SizeResult) -> list[ModelResult]:
    """Each model of the day's builds built again alone (ALONE_STEPS); none when the run skipped that."""
    return [m for m in size.models if m.build in ALONE_STEPS]


def growth(sizes: list[SizeResult]) -> list[dict]:
    """Work-second ratios between consecutive sizes, per step and per model, flagged over the goal.

    `models` holds each model's growth alone when both sizes timed the models alone (`models_in_build` then
    holds the growth of its times inside the DAG's builds), else the growth inside the builds."""
    out = []
    for small, large in pairwise(sizes):
        size_ratio = large.customers_requested / small.customers_requested
        goal = GOAL_FACTOR * size_ratio
        steps = [{s.step: s.work_seconds for s in size.steps} for size in (small, large)]
        in_build = [{m.model: m.seconds for m in day_build(size)} for size in (small, large)]
        by_itself = [{m.model: m.seconds for m in alone(size)} for size in (small, large)]
        entry = {
            "from": small.customers_requested,
            "to": large.customers_requested,
            "size_ratio": size_ratio,
            "goal": round(goal, 2),
            "steps": ratios(*steps, goal),
        }
        if all(by_itself):
            entry |= {"models_timed": "alone", "models": ratios(*by_itself, goal)}
            entry["models_in_build"] = ratios(*in_build, goal)
        else:
            entry |= {"models_timed": "in_build", "models": ratios(*in_build, goal)}
        out.append(entry)
    return out


def _num(value: float | int | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _ratio(entry: dict | None) -> str:
    if entry is None:
        return "—"
    return f"[bold red]{entry['ratio']:.1f}x ![/]" if entry["over_goal"] else f"{entry['ratio']:.1f}x"


def print_tables(console: Console, sizes: list[SizeResult], grown: list[dict], top: int) -> None:
    for size in sizes:
        table = Table(
            title=f"{size.customers_requested:,} customers requested ({size.customers_generated:,} generated),"
            + (f" from {size.start} to {size.end}" if size.end else f" {size.months} months from {size.start}")
        )
        for name in ("step", "wall s", "work s", "rows", "peak RSS MB", "PostgreSQL PSS MB"):
            table.add_column(name, justify="left" if name == "step" else "right")
        for s in size.steps:
            table.add_row(
                s.step,
                f"{s.seconds:.1f}",
                f"{s.work_seconds:.1f}",
                _num(s.rows),
                _num(s.peak_rss_mb),
                _num(s.server_peak_pss_mb),
            )
        table.add_row(
            "total",
            f"{sum(s.seconds for s in size.steps):.1f}",
            f"{sum(s.work_seconds for s in size.steps):.1f}",
            "",
            "",
            "",
            style="bold",
        )
        console.print(table)
    table = Table(title="Disk")
    for name in ("customers", "exports MB", "database MB"):
        table.add_column(name, justify="right")
    for size in sizes:
        table.add_row(
            f"{size.customers_requested:,}", f"{size.exports_bytes / MB:,.0f}", f"{size.database_bytes / MB:,.0f}"
        )
    console.print(table)
    pairs = [f"{g['from']:,}→{g['to']:,}" for g in grown]
    if grown:
        table = Table(title=f"Growth of work seconds per step (goal: ≤ {GOAL_FACTOR}x the growth in customers)")
        table.add_column("step")
        for pair, g in zip(pairs, grown, strict=True):
            table.add_column(f"{pair} (goal {g['goal']:.0f}x)", justify="right")
        for step in STEPS:
            table.add_row(step, *(_ratio(g["steps"].get(step)) for g in grown))
        console.print(table)
    largest = sizes[-1]
    slowest = sorted(day_build(largest), key=lambda m: m.seconds, reverse=True)[:top]
    timed_alone = any(g.get("models_timed") == "alone" for g in grown)
    table = Table(
        title=f"The {len(slowest)} slowest dbt models at {largest.customers_requested:,} customers"
        f" (of {len(day_build(largest))}; ! = over the goal and at least {NOISE_FLOOR_S:.0f} s"
        + ("; growth judged on each model built alone)" if timed_alone else ")")
    )
    table.add_column("model")
    for size in sizes:
        table.add_column(f"s @ {size.customers_requested:,}", justify="right")
        if timed_alone:
            table.add_column(f"alone s @ {size.customers_requested:,}", justify="right")
        table.add_column(f"rows @ {size.customers_requested:,}", justify="right")
    for pair, g in zip(pairs, grown, strict=True):
        if g.get("models_timed") == "alone":
            table.add_column(f"{pair} alone", justify="right")
            table.add_column(f"{pair} in build", justify="right")
        else:
            table.add_column(pair, justify="right")
    for model in slowest:
        cells = []
        for size in sizes:
            found = next((m for m in day_build(size) if m.model == model.model), None)
            cells.append(_num(found and found.seconds, 2))
            if timed_alone:
                by_itself = next((m for m in alone(size) if m.model == model.model), None)
                cells.append(_num(by_itself and by_itself.seconds, 2))
            cells.append(_num(found and found.rows))
        for g in grown:
            cells.append(_ratio(g["models"].get(model.model)))
            if g.get("models_timed") == "alone":
                cells.append(_ratio(g["models_in_build"].get(model.model)))
        table.add_row(model.model, *cells)
    console.print(table)
    print_next_day(console, sizes)
    dags = [size for size in sizes if size.airflow]
    if dags:
        table = Table(title="The Airflow DAG (`tealeaves run`) against the dbt builds inside it")
        columns = (
            "customers",
            "tealeaves run s",
            "DAG run s",
            "dbt tasks s",
            "dbt's own s",
            "other tasks s",
            "dbt outside Airflow s",
            "peak RSS MB",
        )
        for name in columns:
            table.add_column(name, justify="right")
        for size in dags:
            # the next day's DAG run beside the day's, against the daily build outside Airflow
            for label, a, outside in (
                (f"{size.customers_requested:,}", size.airflow, DAY_BUILDS),
                (f"{size.customers_requested:,}, next day", size.airflow.get("next_day"), (DAILY_BUILD,)),
            ):
                if a is None:
                    continue
                table.add_row(
                    label,
                    f"{a['tealeaves_run_seconds']:.1f}",
                    f"{a['dag_seconds']:.1f}",
                    f"{a['dbt_seconds']:.1f}",
                    f"{sum(a['dbt_elapsed_seconds']):.1f}",
                    f"{a['other_tasks_seconds']:.1f}",
                    f"{sum(s.work_seconds for s in size.steps if s.step in outside):.1f}",
                    _num(a["peak_rss_mb"]),
                )
        console.print(table)
    if grown:
        over = [
            f"{name} ({g['from']:,}→{g['to']:,}: {r['ratio']}x)"
            for g in grown
            for key in ("steps", "models")
            for name, r in g[key].items()
            if r["over_goal"]
        ]
        if timed_alone:
            console.print("models judged on their times alone (build_marts_alone, build_predicted_marts_alone)")
        console.print(
            f"[bold red]over the goal:[/] {', '.join(over)}" if over else "[green]no step or model over the goal[/]"
        )


def print_next_day(console: Console, sizes: list[SizeResult]) -> None:
    """--next-day: one more day's build, incremental, against a full rebuild of the same warehouse."""
    measured = [size for size in sizes if any(s.step == FULL_REBUILD for s in size.steps)]
    if not measured:
        return
    table = Table(title="One more day: the incremental build against a full rebuild (goal: at most 10%)")
    for name in ("customers", "step or model", "incremental s", "full rebuild s", "share"):
        table.add_column(name, justify="left" if name == "step or model" else "right")
    for size in measured:
        step = {s.step: s.work_seconds for s in size.steps}
        detail = {s.step: s.detail for s in size.steps}
        rows = [("dbt build (models, tests)", step[DAILY_BUILD], step[FULL_REBUILD])]
        for kind, label in (("models", "models, node seconds"), ("tests", "data tests, node seconds")):
            incremental, full = (detail[b].get(f"{kind}_seconds") for b in (DAILY_BUILD, FULL_REBUILD))
            rows.append((label, incremental, full))
        for model in sorted({m.model for m in size.models if m.materialized == "incremental"}):
            times = {m.build: m.seconds for m in size.models if m.model == model}
            rows.append((model, times.get(DAILY_BUILD), times.get(FULL_REBUILD)))
        for name, incremental, full in rows:
            share = f"{incremental / full:.0%}" if incremental is not None and full else ""
            table.add_row(f"{size.customers_requested:,}", name, _num(incremental, 2), _num(full, 2), share)
    console.print(table)


def read_size(saved: dict) -> SizeResult:
    """A size as --out wrote it."""
    return SizeResult(
        **{
            **saved,
            "steps": [StepResult(**step) for step in saved["steps"]],
            "models": [ModelResult(**model) for model in saved["models"]],
        }
    )


def default_start(months: int) -> date:
    """The world ends at the start of this month: the raw gate refuses times after tomorrow."""
    first = datetime.now(UTC).date().replace(day=1)
    year, month = divmod(first.year * 12 + first.month - 1 - months, 12)
    return date(year, month + 1, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", default="1000,10000,100000", help="comma-separated sizes, smallest first")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--start", type=date.fromisoformat, help="first day (default: the months before this one)")
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        help="the day the data stops (not included) instead of --months after the start's month: a day inside a"
        " month makes --next-day's day one inside a month too (tealeaves generate --end)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--work", type=Path, help="folder for exports, logs and dbt's target (default: a temporary one)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the exports, logs and the last size's database")
    parser.add_argument(
        "--airflow",
        action="store_true",
        help="also run the DAG itself (`tealeaves run`) on each size's exports, on a server of its own: the same"
        " work again, plus Airflow's",
    )
    parser.add_argument(
        "--next-day",
        action="store_true",
        help="build day one's exports, then load one more day's and build again incrementally, and rebuild the"
        " same warehouse in full to compare (tealeaves.generate.next_day)",
    )
    parser.add_argument(
        "--keep-day-one",
        action="store_true",
        help="with --next-day: keep the last size's day one, as the next day's build starts from it, as the database"
        f" {DAY_ONE_DB} for bench/replay_day.py (the copy's writes can still be flushing as the next day loads)",
    )
    parser.add_argument(
        "--next-day-days",
        type=int,
        default=1,
        help="how many days of exports the next day holds (default 1: the goal's one more day of exports)",
    )
    parser.add_argument(
        "--no-models-alone",
        dest="models_alone",
        action="store_false",
        help="skip building every model again one at a time (the models' growth is then their times in the builds;"
        " --next-day skips it too)",
    )
    parser.add_argument("--top", type=int, default=15, help="how many of the slowest models to print")
    parser.add_argument("--show", type=Path, metavar="RESULTS_JSON", help="print an earlier run's tables; run nothing")
    for hidden in ("--step", "--data", "--run-id", "--docs", "--result"):  # one step in a process of its own
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        outcome = run_step(args.step, Path(args.data), args.run_id, Path(args.docs))
        Path(args.result).write_text(json.dumps(outcome))
        return

    if args.show:
        earlier = json.loads(args.show.read_text())
        sizes = [read_size(size) for size in earlier["sizes"]]
        print_tables(Console(), sizes, earlier["growth"], args.top)
        return

    sizes_wanted = [int(part) for part in args.customers.split(",")]
    if args.end and not (args.start and args.start < args.end):
        raise SystemExit("--end needs a --start before it (--end replaces --months, which is then not used)")
    start = args.start or default_start(args.months)
    months = None if args.end else args.months  # --end replaces --months
    console = Console()
    settings = get_settings()
    was_running = settings.embedded and _embedded(settings).status().running
    start_server(settings)
    work = args.work or Path(tempfile.mkdtemp(prefix="tealeaves-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        url = scratch_database(settings, BENCH_DB)
        machine = machine_facts(settings, url)
        # Parsed once, as the DAG's manifest is (tealeaves.orchestrate.build_manifest): each build then reuses
        # dbt's partial parse, like Cosmos' build does, and every size pays the same dbt start-up.
        parse = run_measured(
            [dbt_executable(), "parse", "--project-dir", str(settings.dbt_project_dir)],
            step_environ(url, work / "dbt"),
            work / "dbt-parse.log",
            None,
        )
        if parse.returncode != 0:
            raise SystemExit(f"dbt parse failed; see {work / 'dbt-parse.log'}")
        result = {
            "machine": machine,
            "params": {
                "customers": sizes_wanted,
                "months": months,
                "start": start.isoformat(),
                "end": args.end.isoformat() if args.end else None,
                "seed": args.seed,
                "next_day_days": args.next_day_days if args.next_day else None,
                "goal_factor": GOAL_FACTOR,
                "noise_floor_s": NOISE_FLOOR_S,
            },
            "dbt_parse_seconds": round(parse.seconds, 3),
        }
        sizes: list[SizeResult] = []
        for customers in sizes_wanted:
            sizes.append(
                run_size(
                    settings,
                    customers,
                    months,
                    start,
                    args.seed,
                    work,
                    console,
                    args.airflow,
                    args.next_day_days if args.next_day else 0,
                    args.models_alone,
                    args.end,
                    args.keep_day_one and args.next_day and customers == sizes_wanted[-1],
                )
            )
            result |= {"sizes": [asdict(s) for s in sizes], "growth": growth(sizes)}
            if args.out:  # after every size: a larger one that fails or is stopped keeps the smaller ones' figures
                args.out.write_text(json.dumps(result, indent=2) + "\n")
        print_tables(console, sizes, result["growth"], args.top)
        if args.out:
            console.print(f"results in {args.out}")
    finally:
        if not args.keep:
            drop_database(settings, BENCH_DB)
            if args.work is None:
                shutil.rmtree(work, ignore_errors=True)
        if settings.embedded and not was_running:
            _embedded(settings).stop()  # the bench started it


def _embedded(settings: Settings):
    from tealeaves.db import EmbeddedPostgres

    return EmbeddedPostgres(settings.pg_data, settings.pg_port, settings.pg_password_file)


if __name__ == "__main__":
    main()
