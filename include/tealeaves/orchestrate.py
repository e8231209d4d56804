"""Run the spine from Python: prepare the server and Airflow, then run `tealeaves_daily` with `airflow dags test`.

`make demo` and `make airflow` come through here, so they share one environment with the tests.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib.metadata import version
from pathlib import Path

from rich.console import Console

from tealeaves.airflow_env import airflow_environ as environ
from tealeaves.config import DAILY_START, DBT_PROFILE, DBT_TARGET, Settings
from tealeaves.daily_builds import PRODUCER
from tealeaves.dbt_cli import dbt_executable
from tealeaves.state import UMASK, private_files, private_folder, private_opener

DAG_ID = "tealeaves_daily"
# The daily DAG's EmptyOperators: every task of its two dbt groups but the one running `dbt build` (the model and
# seed markers of tealeaves_airflow.dbt_build, and Cosmos' gate after the build). A scheduler never runs an
# EmptyOperator, it marks it success once its trigger rule holds; `airflow dags test` would run each in process
# (about 0.2 s apiece), so `tealeaves run` has it mark them as the scheduler does. tests/integration/
# test_dag_files.py checks that this matches the EmptyOperators of the DAG and nothing else.
MARKERS = rf"build_(?:predicted_)?marts\.(?!{PRODUCER}$).+"


class RunFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Outcome:
    run_id: str
    state: str


def airflow_bin() -> str:
    return str(Path(sys.executable).parent / "airflow")


def run_tool(
    settings: Settings, args: list[str], what: str, cwd: Path | None = None, extra_env: dict[str, str] | None = None
) -> None:
    env = {**os.environ, **environ(settings), **(extra_env or {})}
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, umask=UMASK)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise RunFailed(f"{what} failed (exit {result.returncode}):\n{tail}")


def start_server(settings: Settings) -> None:
    from tealeaves.db import EmbeddedPostgres, ensure_databases
    from tealeaves.db.migrate import ensure_current

    if settings.embedded:
        EmbeddedPostgres(settings.pg_data, settings.pg_port, settings.pg_password_file).start()
    ensure_databases(settings)
    ensure_current(settings.url())  # the warehouse's own tables at their newest revision, before any task runs


def manifest_is_stale(settings: Settings) -> bool:
    manifest = settings.dbt_manifest
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    project = settings.dbt_project_dir
    watched = [
        project / "dbt_project.yml",
        *project.glob("models/**/*"),
        *project.glob("macros/**/*"),
        *project.glob("seeds/**/*"),
        *project.glob("tests/**/*"),
    ]
    return any(p.stat().st_mtime > built for p in watched if p.is_file())


# What dbt compares before it reuses a partial parse, besides the project's files (dbt's ManifestStateCheck): the
# --profile and --target flags, the connection's host, port, user and database (profiles.yml reads them from
# TEALEAVES_DBT_*; the password is not compared) and the variables dbt_project.yml reads (none: the reporting time
# zone and date are read when dbt runs, macros/reporting_calendar.sql). A manifest parsed for another server, or
# without the flags Cosmos passes, makes every dbt build in the DAG parse the project afresh.
PARSE_FLAGS = ("--profile", DBT_PROFILE, "--target", DBT_TARGET)
PARSE_ENV = ("TEALEAVES_DBT_HOST", "TEALEAVES_DBT_PORT", "TEALEAVES_DBT_USER", "TEALEAVES_DBT_DBNAME")
PARTIAL_PARSE = "partial_parse.msgpack"  # dbt's saved parse, which a later parse with the same inputs reuses
PARSE_ARTIFACTS = ("manifest.json", PARTIAL_PARSE, "semantic_manifest.json")
PARSE_STAMP = ".parse-inputs.json"  # beside the manifest: what it was parsed for


def parse_inputs(env: dict[str, str]) -> dict:
    """What a partial parse must have been made for to be reused by a dbt command run in `env`."""
    return {
        "dbt": version("dbt-core"),
        "flags": list(PARSE_FLAGS),
        "env": {name: env.get(name) for name in PARSE_ENV},
    }


def _parsed_for(target: Path) -> dict | None:
    """The inputs the manifest in `target` was parsed for, unless dbt has rewritten its partial parse since."""
    stamp = target / PARSE_STAMP
    partial = target / PARTIAL_PARSE
    if not stamp.exists() or not partial.exists():
        return None
    recorded = json.loads(stamp.read_text())
    return recorded["inputs"] if recorded.get("partial_parse_mtime_ns") == partial.stat().st_mtime_ns else None


def own_partial_parse(settings: Settings) -> Path:
    """This home's copy of the last partial parse made for it.

    Homes on other servers share the project's target folder (two test workers, a demo beside a benchmark), and
    dbt reuses a parse only for the connection it was made for: each found the other's there and parsed the
    whole project again, about 12 s (twice that on a slow day)."""
    return settings.home / "dbt-parse" / PARTIAL_PARSE


def partial_parse_to_reuse(settings: Settings) -> Path | None:
    """The partial parse a dbt command of this home starts from: its own, else the project's shared one."""
    for path in (own_partial_parse(settings), settings.dbt_project_dir / "target" / PARTIAL_PARSE):
        if path.exists():
            return path
    return None


def build_manifest(settings: Settings, extra_env: dict[str, str] | None = None) -> None:
    """The DAG renders dbt from target/manifest.json, so parsing stays out of DAG import.

    Parsed as Cosmos' builds will run dbt (same flags, same environment), and again whenever that changes (another
    server), starting from this home's last parse, so the builds in the DAG reuse this partial parse instead of
    parsing the project from scratch. `extra_env` is what the DAG run adds to the environment (`tealeaves run --as-of`).

    A lock serialises concurrent callers (two test workers, `make demo` beside `make airflow`): the second one
    waits, then finds the manifest fresh instead of rewriting it under the first one's readers. dbt writes into a
    scratch folder, and its files replace the old ones whole: a DAG being imported meanwhile reads either.
    """
    target = settings.dbt_project_dir / "target"
    target.mkdir(exist_ok=True)
    inputs = parse_inputs({**os.environ, **environ(settings), **(extra_env or {})})
    with open(target / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest_is_stale(settings) or _parsed_for(target) != inputs:
            with tempfile.TemporaryDirectory(prefix=".parse-", dir=target) as scratch:
                reused = partial_parse_to_reuse(settings)
                if reused is not None:  # dbt re-reads only what changed when its inputs are the same
                    shutil.copy2(reused, Path(scratch) / PARTIAL_PARSE)
                dbt = dbt_executable()
                command = [dbt, "parse", "--quiet", *PARSE_FLAGS, "--target-path", scratch]
                run_tool(settings, command, "dbt parse", cwd=settings.dbt_project_dir, extra_env=extra_env)
                own = own_partial_parse(settings)
                private_folder(own.parent)
                with open(own.with_suffix(".tmp"), "wb", opener=private_opener) as copy:
                    copy.write((Path(scratch) / PARTIAL_PARSE).read_bytes())
                os.replace(own.with_suffix(".tmp"), own)
                for name in PARSE_ARTIFACTS:
                    if (Path(scratch) / name).exists():
                        os.replace(Path(scratch) / name, target / name)
            stamp = {"inputs": inputs, "partial_parse_mtime_ns": (target / PARTIAL_PARSE).stat().st_mtime_ns}
            (target / PARSE_STAMP).write_text(json.dumps(stamp, indent=2) + "\n")


AIRFLOW_MIGRATED = ".metadata-migrated.json"  # in AIRFLOW_HOME: what `airflow db migrate` last left


def migrate_airflow(settings: Settings) -> None:
    """`airflow db migrate`, unless the metadata database is still as the last migration left it.

    The command takes about 3 s even when there is nothing to do (most of it Airflow's import), on every `tealeaves
    run`, `demo` and `airflow up`. It is skipped when the database's Alembic revision and the installed Airflow
    distributions are the ones recorded after the last migration; an upgrade or a new database runs it again.
    """
    # Closed here, not only by Airflow's umask: an Airflow started some other way makes folders in it by its own.
    private_folder(settings.airflow_home / "logs")
    stamp = settings.airflow_home / AIRFLOW_MIGRATED
    schema = _airflow_schema(settings)
    if schema is not None and stamp.exists() and json.loads(stamp.read_text()) == schema:
        return
    run_tool(settings, [airflow_bin(), "db", "migrate"], "airflow db migrate")
    schema = _airflow_schema(settings)
    if schema is not None:
        with open(stamp, "w", opener=private_opener) as out:  # the home is its user's only
            out.write(json.dumps(schema, indent=2) + "\n")


def _airflow_schema(settings: Settings) -> dict | None:
    """The metadata database's Alembic revision and the installed Airflow distributions; None if unreadable."""
    from importlib.metadata import distributions

    import psycopg

    try:
        with psycopg.connect(settings.url(settings.airflow_metadata), connect_timeout=10) as conn:
            revisions = sorted(row[0] for row in conn.execute("select version_num from alembic_version"))
    except psycopg.Error:  # no server yet, or a database never migrated: migrating says what is wrong
        return None
    airflow = sorted(
        f"{d.metadata['Name'].lower()}=={d.version}"
        for d in distributions()
        if (d.metadata["Name"] or "").lower().startswith("apache-airflow")
    )
    return {"revisions": revisions, "distributions": airflow}


def prepare(
    settings: Settings, say: Callable[[str], object] = lambda _: None, extra_env: dict[str, str] | None = None
) -> None:
    """What every run needs first: the server and its databases, dbt's manifest, Airflow's metadata.

    `extra_env` is what the run will add to the DAG's environment, so dbt's partial parse is made for it.
    """
    start_server(settings)
    say("parsing the dbt project")
    build_manifest(settings, extra_env)
    say("preparing Airflow's metadata database")
    migrate_airflow(settings)


def refuse_beside_a_scheduler(settings: Settings) -> None:
    """Stop before `airflow dags test` when this home's scheduler is up (`tealeaves airflow up`).

    The scheduler examines the running runs of every unpaused DAG, the one `airflow dags test` makes too, and would
    queue its tasks to its own executor while the test loop runs them: two loads, two dbt builds on one schema.
    A scheduler counts as up while its last heartbeat is younger than Airflow's own health threshold
    ([scheduler] scheduler_health_check_threshold, 30 s unless the environment sets it, as tealeaves sets Airflow's
    configuration).
    """
    import psycopg

    setting = "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD"
    threshold = {**os.environ, **environ(settings)}.get(setting, "30")
    if not threshold.strip().replace(".", "", 1).isdigit():
        raise RunFailed(f"{setting}={threshold!r} is not a number of seconds")
    try:
        with psycopg.connect(settings.url(settings.airflow_metadata), connect_timeout=10) as conn:
            alive = conn.execute(
                "select exists (select from job where job_type = 'SchedulerJob' and state = 'running'"
                " and latest_heartbeat > now() - make_interval(secs => %s))",
                [float(threshold)],
            ).fetchone()[0]
    except psycopg.Error as exc:  # prepare() has just migrated it: unreadable now is a fault to name, not a trace
        raise RunFailed(f"Airflow's metadata database: {str(exc).strip()}") from None
    if alive:
        raise RunFailed(
            f"Airflow's scheduler is running for this home (tealeaves airflow up), and would run {DAG_ID}'s tasks"
            f" beside this run: trigger {DAG_ID} in the Airflow UI, or stop Airflow first"
        )


def run_daily(settings: Settings, logical_date: date, extra_env: dict[str, str] | None = None) -> Outcome:
    if logical_date < DAILY_START:
        raise RunFailed(
            f"run date {logical_date} is before {DAG_ID}'s start date {DAILY_START}: Airflow would run no task."
            " The run date is when the pipeline runs; to report on older data, keep today's run date and set the"
            " reporting date with --as-of"
        )
    env = {**os.environ, **environ(settings), **(extra_env or {})}
    stamp = datetime.combine(logical_date, datetime.min.time(), UTC).isoformat()
    log = private_folder(settings.home / "logs") / f"{DAG_ID}-{logical_date.isoformat()}.log"
    with open(log, "w", opener=private_opener) as out:
        command = [airflow_bin(), "dags", "test", DAG_ID, stamp, "--mark-success-pattern", MARKERS]
        code = subprocess.call(command, env=env, stdout=out, stderr=out, umask=UMASK)
    state, run_id = _last_run(settings)
    if code != 0 or state != "success":
        raise RunFailed(
            f"{DAG_ID} run {run_id} ended {state or 'without a run'}\n"
            f"{_failed_tasks(settings, run_id, log)}\nfull log: {log}"
        )
    return Outcome(run_id, state)


def _last_run(settings: Settings) -> tuple[str | None, str | None]:
    import psycopg

    with psycopg.connect(settings.url(settings.airflow_metadata)) as conn:
        row = conn.execute(
            "select state, run_id from dag_run where dag_id = %s order by id desc limit 1", [DAG_ID]
        ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def _failed_tasks(settings: Settings, run_id: str | None, log: Path | None = None) -> str:
    """The tasks that failed (not those that then could not run), each with the reason from its log."""
    import psycopg

    if run_id is None:
        return ""
    with psycopg.connect(settings.url(settings.airflow_metadata)) as conn:
        rows = conn.execute(
            "select task_id, state from task_instance where dag_id = %s and run_id = %s"
            " and state in ('failed', 'upstream_failed') order by task_id",
            [DAG_ID, run_id],
        ).fetchall()
    failed = [task for task, state in rows if state == "failed"]
    blocked = len(rows) - len(failed)
    text = log.read_text(errors="replace") if log is not None and log.exists() else ""
    lines = [f"failed task {task}: {task_failure_reason(text, task) or 'see the log'}" for task in failed]
    if blocked:
        lines.append(f"{blocked} task(s) after it did not run; the published marts are unchanged")
    return "\n".join(lines)


_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
_EXCEPTION = re.compile(r"^[\w.]+(?:Error|Exception|Failure|Failed|Exit)\w*: ")


def task_failure_reason(log: str, task_id: str) -> str:
    """The exception message a task ended with, from an `airflow dags test` log (its last attempt).

    A task's lines run from "[DAG TEST] starting task_id=<id> " to its "end task"; the message is the line after
    the traceback (`SomeError: what happened`) and its continuation lines, up to the next log record.
    """
    starts = [m.end() for m in re.finditer(rf"\[DAG TEST\] starting task_id={re.escape(task_id)} ", log)]
    if not starts:
        return ""
    block = log[starts[-1] :]
    end = block.find(f"[DAG TEST] end task task_id={task_id} ")
    block = block[: end if end >= 0 else None].splitlines()
    reason: list[str] = []
    for index, line in enumerate(block):
        if _EXCEPTION.match(line):
            reason = [line.split(": ", 1)[1]]
            for more in block[index + 1 :]:
                if _STAMP.match(more) or more.startswith(("Traceback", "  File ")):
                    break
                reason.append(more.strip())
    return " ".join(part for part in reason if part)


def demo(settings: Settings, console: Console, customers: int, months: int) -> Outcome:
    with console.status("starting PostgreSQL") as status:
        prepare(settings, status.update)
        refuse_beside_a_scheduler(settings)
        status.update(f"generating exports for {customers} customers over {months} months")
        current = demo_world_is_current(settings, customers, months)
        folder = demo_world(settings, customers, months)
        if not current and forget_earlier_demo_world(settings.url(), folder):
            console.print("a new demo world: the warehouse's batches and marts of the earlier one were dropped")
        require_one_origin(settings, folder)
        status.update(f"running {DAG_ID} (load → dbt build → Great Expectations → publish)")
        outcome = run_daily(settings, datetime.now(UTC).date(), {"TEALEAVES_DATA": str(folder)})
    return outcome


def demo_world(settings: Settings, customers: int, months: int) -> Path:
    """The demo's sample exports in a folder of their own, generated unless the same generator wrote that size
    there already (an upgraded generator writes its world again).

    Never the folder a user keeps exports in, and never a folder holding files the generator did not write.
    """
    from tealeaves.generate import generate

    wanted = _demo_params(customers, months)
    folder = settings.demo_data_dir
    truth = folder / "truth.json"
    if demo_world_is_current(settings, customers, months):
        return folder
    if folder.exists() and any(folder.iterdir()) and not truth.exists():
        raise RunFailed(f"{folder} holds files the demo did not write; move them away or set TEALEAVES_HOME")
    if folder.exists():
        shutil.rmtree(folder)  # the demo's own earlier world, of another size
    with private_files():  # customer-like exports: its user's only, like everything in the home
        generate(private_folder(folder), customers=customers, months=months)
        (folder / "params.json").write_text(json.dumps(wanted))
    return folder


def run(settings: Settings, console: Console, data: Path, as_of: date | None) -> Outcome:
    """`tealeaves run`: the daily DAG once on the exports in `data`, preparing whatever it needs first."""
    from tealeaves.load.loader import expand_paths

    data = data.expanduser().resolve()
    if not data.is_dir():
        raise RunFailed(f"{data}: no such folder; put your exports in <folder>/billing/, crm/, support/, survey/")
    if not expand_paths([data], None, allow_empty=True):
        raise RunFailed(
            f"{data}: no export files here or in billing/, crm/, support/, survey/; docs/sources.md lists the names"
        )
    env = {"TEALEAVES_DATA": str(data)}
    if as_of is not None:
        env["TEALEAVES_AS_OF"] = as_of.isoformat()
    with console.status("starting PostgreSQL") as status:
        prepare(settings, status.update, env)
        refuse_beside_a_scheduler(settings)
        require_one_origin(settings, data)
        status.update(f"running {DAG_ID} on {data} (load → dbt build → Great Expectations → publish)")
        return run_daily(settings, datetime.now(UTC).date(), env)


def _demo_params(customers: int, months: int) -> dict:
    return {"requested_customers": customers, "months": months, "generator": _generator_fingerprint()}


def demo_world_is_current(settings: Settings, customers: int, months: int) -> bool:
    """The demo folder holds the world this generator writes for this size."""
    truth = settings.demo_data_dir / "truth.json"
    return truth.exists() and _params(truth) == _demo_params(customers, months)


def forget_earlier_demo_world(url: str, folder: Path) -> bool:
    """Empty the warehouse when everything loaded in it came from the demo folder, whose world was just written
    again: the earlier company's batches would be compared with, and mixed into, the new one's. A warehouse that
    holds anything loaded from elsewhere is left alone (require_one_origin then says why the demo stops)."""
    import psycopg

    from tealeaves.db.setup import reset_warehouse

    with psycopg.connect(url) as conn:
        if conn.execute("select to_regclass('raw.load_batches')").fetchone()[0] is None:
            return False
        inside, outside = conn.execute(
            "select count(*) filter (where starts_with(file_path, %(f)s)),"
            " count(*) filter (where not starts_with(file_path, %(f)s)) from raw.load_batches",
            {"f": str(folder) + os.sep},
        ).fetchone()
    if outside or not inside:
        return False
    reset_warehouse(url)
    return True


def require_one_origin(settings: Settings, data: Path) -> None:
    """One warehouse reflects one export folder: batches loaded from elsewhere would be mixed into its marts."""
    import psycopg

    with psycopg.connect(settings.url()) as conn:
        if conn.execute("select to_regclass('raw.load_batches')").fetchone()[0] is None:
            return
        row = conn.execute(
            "select count(*), min(file_path) from raw.load_batches"
            " where status = 'loaded' and not starts_with(file_path, %s)",
            [str(data) + os.sep],
        ).fetchone()
    if row[0]:
        raise RunFailed(
            f"the warehouse already holds {row[0]} batch(es) loaded from outside {data} (e.g. {row[1]}), which"
            " would be mixed into the marts; empty it with `tealeaves db reset`, or give this folder a warehouse"
            " of its own (TEALEAVES_HOME or TEALEAVES_DATABASE_URL)"
        )


def _generator_fingerprint() -> str:
    """A digest of the generator's source: its economics and formats live in code, not in the demo's size."""
    package = Path(__file__).parent / "generate"
    digest = hashlib.sha256()
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


def _params(truth: Path) -> dict:
    params = truth.parent / "params.json"
    return json.loads(params.read_text()) if params.exists() else {}


def serve(settings: Settings) -> int:
    """Airflow's API server (UI), scheduler, DAG processor, triggerer and log servers, until Ctrl-C or SIGTERM.

    All listen on TEALEAVES_AIRFLOW_HOST (127.0.0.1 unless set). The admin's password is made on the first start
    and shown only then, on this terminal; it is never in a log or on a command line.
    """
    from tealeaves.airflow_env import api_url
    from tealeaves.airflow_login import ensure_admin_password, login_notice

    new_password = ensure_admin_password(settings)
    env = {**os.environ, **environ(settings)}
    # the servers tasks and people talk to, then what runs the tasks
    servers = [
        subprocess.Popen(c, env=env, umask=UMASK)
        for c in (
            [airflow_bin(), "api-server"],
            [sys.executable, "-m", "tealeaves.airflow_logs", "worker"],
            [sys.executable, "-m", "tealeaves.airflow_logs", "trigger"],
        )
    ]
    runners = [
        subprocess.Popen(c, env=env, umask=UMASK)
        for c in (
            [airflow_bin(), "scheduler", "--skip-serve-logs"],
            [airflow_bin(), "dag-processor"],
            [airflow_bin(), "triggerer", "--skip-serve-logs"],
        )
    ]
    print(f"Airflow UI: {api_url(settings)}  (Ctrl-C stops everything)", flush=True)
    if new_password is not None:
        print(login_notice(settings, new_password), flush=True)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        return max(p.wait() for p in servers + runners)
    except KeyboardInterrupt:
        # The scheduler, DAG processor and triggerer first: the scheduler waits for its running tasks, and in
        # Airflow 3 a task reports through the API server. Stopped together, the task lost its API and the
        # scheduler waited 30 s for it, retrying, before being killed; stopped first, it finishes in seconds.
        _stop_all(runners)
        _stop_all(servers)
        return 0


def _stop_all(processes: list[subprocess.Popen], grace_seconds: float = 30) -> None:
    """SIGTERM to each, then wait for each; one not gone after the grace period is killed."""
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            p.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
