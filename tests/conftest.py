"""Shared fixtures: one real embedded PostgreSQL per test process, in a temporary home on a free port.

pytest-xdist runs test files in several processes (pyproject.toml); each imports this module and so gets a home,
server and Airflow metadata database of its own.

The environment is set here, at import, because Airflow reads its configuration when first imported and
test modules import it.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import hypothesis
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Headless Chromium fixtures (chromium, offline_page, local_page) for the tests of what people look at.
pytest_plugins = ["tests.browser"]

# The oracles' own asserts (guards on what the exports hold) report the values compared, as a test's do.
pytest.register_assert_rewrite(
    "tests.acquisition_cost_table",
    "tests.exports",
    "tests.finance_oracle",
    "tests.ltv_oracle",
    "tests.mrr_oracle",
    "tests.revenue_oracle",
    "tests.voice_oracle",
    "tests.warehouse",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_HOME = Path(tempfile.mkdtemp(prefix="tealeaves-test-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)  # also in the xdist controller, which starts no server
os.environ.pop("TEALEAVES_DATABASE_URL", None)
os.environ["TEALEAVES_HOME"] = str(_HOME)
os.environ["TEALEAVES_PG_PORT"] = str(free_port())

from tealeaves import airflow_env, daily_builds  # noqa: E402
from tealeaves.config import Settings, get_settings  # noqa: E402
from tealeaves.dbt_cli import retry_ast_race  # noqa: E402

retry_ast_race()  # as tealeaves-dbt does, before anything imports dbt: the tests run dbt's threads in process

# The property tests are seeded from each test's code, not from the run, and replay no machine's saved examples (no
# database): a new counterexample comes with a change of code, not with a run's luck. Not quite every draw is fixed:
# Hypothesis takes about one value in twenty from the constants of the project's modules the process has imported,
# which can differ with the test files it ran before. Registered before the test files import.
hypothesis.settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis.settings.load_profile("repeatable")

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import URL

airflow_env.apply(get_settings())
sys.path.insert(0, str(ROOT / "plugins"))  # as Airflow does for its plugins folder


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


# Seconds each test file (or the marts_world files together) took in a whole run of `make test` on 2 cores, longest
# first; `pytest --store-file-durations` writes the files it ran. Only the order in which files are handed out
# reads it.
FILE_DURATIONS = ROOT / "tests" / "file_durations.json"


def _marts_world_files(root: Path) -> set[str]:
    """The test files reading the marts_world fixture, which run in one process together (its world is built once).

    Read from each file's text: the xdist controller, which schedules, collects nothing."""
    return {
        path.relative_to(root).as_posix()
        for path in (ROOT / "tests").rglob("test_*.py")
        if "marts_world" in path.read_text(encoding="utf-8")
    }


def _unit_of(path: str, together: set[str]) -> str:
    return "marts_world" if path in together else path


def _stored_durations() -> dict[str, float]:
    return json.loads(FILE_DURATIONS.read_text(encoding="utf-8")) if FILE_DURATIONS.exists() else {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store-file-durations",
        action="store_true",
        help=f"after a run that passed, write the seconds of each file run whole to {FILE_DURATIONS.name}",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest files first, so that no long file starts when the others are nearly done.

    xdist hands files out in the order every process collects them (--no-loadscope-reorder in pyproject.toml; its
    own reordering puts files with the most tests first, which left a one-test file of two minutes to run alone
    at the end). A file missing from the durations counts as the median one. Tests keep their order within a file.
    """
    durations = _stored_durations()
    typical = statistics.median(durations.values()) if durations else 0.0
    together = _marts_world_files(config.rootpath)

    def key(item: pytest.Item) -> tuple[float, str]:
        unit = _unit_of(item.nodeid.split("::", 1)[0], together)
        return (-durations.get(unit, typical), unit)

    items.sort(key=key)  # stable: a file's tests keep their order


_SECONDS_BY_FILE: dict[str, float] = {}
_FILES_DESELECTED: set[str] = set()


def pytest_deselected(items: list[pytest.Item]) -> None:
    _FILES_DESELECTED.update(item.nodeid.split("::", 1)[0] for item in items)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """xdist's controller: what a process deselected (each collects, and deselects, on its own)."""
    _FILES_DESELECTED.update(getattr(node, "workeroutput", {}).get("files_deselected", ()))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    _SECONDS_BY_FILE[path] = _SECONDS_BY_FILE.get(path, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the durations of the files that ran whole, when asked, from the process that saw every report
    (xdist's controller); the other files keep theirs, and files no longer there are dropped.

    A file (or the marts_world group) some of whose tests were deselected (-k, -m, --lf) or named alone keeps its
    old figure: its time would be part of its own."""
    config = session.config
    if hasattr(config, "workerinput"):  # an xdist process: its deselections go to the controller
        config.workeroutput["files_deselected"] = sorted(_FILES_DESELECTED)
        return
    if not config.getoption("--store-file-durations"):
        return
    if exitstatus != 0:
        print(f"\n{FILE_DURATIONS.name} not written: only a run that passed is timed")
        return
    together = _marts_world_files(config.rootpath)
    partial = {_unit_of(path, together) for path in _FILES_DESELECTED}
    partial |= {_unit_of(arg.split("::", 1)[0], together) for arg in config.args if "::" in arg}
    seconds: dict[str, float] = {}
    for path, spent in _SECONDS_BY_FILE.items():
        unit = _unit_of(path, together)
        seconds[unit] = seconds.get(unit, 0.0) + spent
    stored = _stored_durations()
    stored.update((unit, round(spent, 1)) for unit, spent in seconds.items() if unit not in partial)
    present = {
        _unit_of(path.relative_to(config.rootpath).as_posix(), together) for path in ROOT.glob("tests/**/test_*.py")
    }
    ordered = dict(sorted(((u, s) for u, s in stored.items() if u in present), key=lambda kv: (-kv[1], kv[0])))
    FILE_DURATIONS.write_text(json.dumps(ordered, indent=1) + "\n", encoding="utf-8")


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """xdist's loadfile, except that the test files reading marts_world are one unit: that world, a session
    fixture, is then built by one process instead of by each (about 45 s apiece on 2 cores).

    Not xdist_group marks: xdist 3.8 writes a test's group into Item._nodeid, which pytest 9 no longer reads
    (pytest-dev/pytest-xdist#1386), so the marks left every test a unit of its own and each module fixture was
    built again in every process that ran one of its tests.
    """
    from xdist.scheduler import LoadFileScheduling

    together = _marts_world_files(config.rootpath)

    class MartsWorldTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit_of(super()._split_scope(nodeid), together)

    return MartsWorldTogether(config, log)


@pytest.fixture(scope="session")
def server(settings: Settings):
    """The session's embedded PostgreSQL with the tealeaves and airflow databases; removed afterwards."""
    from tealeaves.db import EmbeddedPostgres
    from tealeaves.orchestrate import start_server

    start_server(settings)
    yield settings
    if "airflow.settings" in sys.modules:  # close Airflow's pooled connections before the server goes
        sys.modules["airflow.settings"].dispose_orm()
    EmbeddedPostgres(settings.pg_data, settings.pg_port, settings.pg_password_file).stop()
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def warehouse_url(server: Settings) -> str:
    """URL of the session's warehouse database (tests make their own schemas in it)."""
    return server.url()


@pytest.fixture(scope="session")
def airflow_ready(server: Settings) -> Settings:
    """Airflow's metadata database migrated and the dbt manifest parsed, as `make demo` does."""
    from tealeaves.orchestrate import build_manifest, migrate_airflow

    build_manifest(server)
    migrate_airflow(server)
    return server


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running the `tealeaves` command against a home of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEALEAVES_", "AIRFLOW"))}
    env.update(TEALEAVES_HOME=str(tmp_path / "home"), TEALEAVES_PG_PORT=str(free_port()))
    return env


TEALEAVES = str(Path(sys.executable).parent / "tealeaves")


@pytest.fixture(scope="session")
def manifest(settings: Settings) -> Path:
    """dbt's manifest, which the DAG renders its dbt task group from."""
    from tealeaves.orchestrate import build_manifest

    build_manifest(settings)
    return settings.dbt_manifest


@pytest.fixture(scope="session")
def dagbag(manifest):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


@pytest.fixture
def fresh_database(server: Settings, request) -> str:
    """A database of its own for one test, on the session's server: tests cannot see each other's rows."""
    return create_database(server, "t_" + "".join(ch if ch.isalnum() else "_" for ch in request.node.name.lower())[:50])


def create_database(settings: Settings, name: str) -> str:
    """A new, empty database on the session's server (dropped first if a previous run left it)."""
    from tealeaves.db.setup import scratch_database

    return scratch_database(settings, name)


def dbt_build(
    url: str,
    select: str | daily_builds.Build,
    scratch: Path,
    dbt_vars: dict[str, object] | None = None,
    env: dict[str, str] | None = None,
    full_refresh: bool = False,
    failing_tests: bool = False,
    debug_log: bool = False,
    failing_models: bool = False,
    unit_tests: bool = False,
) -> dict[str, dict]:
    """`dbt build --select ...` against `url`, writing its target and logs under `scratch`; fails loudly.

    `select` is what follows --select, or one of the DAG's builds (its selection as the DAG spells it).

    `dbt_vars` are dbt vars (`--vars`), e.g. {"ltv_as_of": "1997-09-30"}; `env` adds variables dbt reads,
    e.g. TEALEAVES_TIMEZONE for the reporting time zone; `full_refresh` rebuilds incremental models whole (after
    a test took rows out of raw, which no incremental run would notice); `failing_tests`: a data test may fail
    (every model must still build); `debug_log`: dbt's log file in `scratch` has its debug lines (what
    incremental_plans reads), which cost a fifth of a small build's time; `failing_models`: a model may fail too
    (a test of a model's own guard); `unit_tests`: dbt's unit tests of the selected models run too. Only
    marts_world's builds ask, and they run every one: a unit test reads fixed inputs and pins its calendar
    (tests/unit/test_dbt_unit_tests_pin_their_calendar.py), so running it again in another world's build tells
    nothing new; the other builds ran 507 of them in a whole `make test` (186 of the 628 node seconds of the
    in-process builds). Returns dbt's run results by node name.
    """
    import json

    from sqlalchemy.engine import make_url

    parts = make_url(url)
    env = {
        "TEALEAVES_DBT_HOST": parts.host or "127.0.0.1",
        "TEALEAVES_DBT_PORT": str(parts.port),
        "TEALEAVES_DBT_USER": parts.username or "postgres",
        "TEALEAVES_DBT_PASSWORD": parts.password or "",
        "TEALEAVES_DBT_DBNAME": BUILD_DATABASE,
        "DBT_PROFILES_DIR": str(ROOT / "dbt_project"),
        "DBT_TARGET_PATH": str(scratch / "target"),
        "DBT_LOG_PATH": str(scratch / "logs"),
        **(env or {}),
    }
    # buildable: a test runs only when every model it reads is built here too
    selection = select.selection() if isinstance(select, daily_builds.Build) else ["--select", *select.split()]
    command = ["build", "--indirect-selection", "buildable", *selection]
    command += ["--log-level-file", "debug" if debug_log else "info"]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    if full_refresh:
        command.append("--full-refresh")
    if not unit_tests:
        command += ["--exclude-resource-type", "unit_test"]
    run_results = scratch / "target" / "run_results.json"
    run_results.unlink(missing_ok=True)
    parsed = _partial_parse(parts.set(database=BUILD_DATABASE), dbt_vars)
    _reuse_partial_parse(parsed, scratch / "target")
    with _under_the_build_name(url):
        succeeded, output = _dbt_in_process(command, env)
    _keep_partial_parse(scratch / "target", parsed)
    assert run_results.exists(), f"dbt build {' '.join(selection)} did not run:\n{_dbt_errors(output)}"
    results = json.loads(run_results.read_text(encoding="utf-8"))["results"]
    by_name = {r["unique_id"].split(".")[2]: r for r in results}
    broken = [name for name, r in by_name.items() if r["status"] not in ("success", "pass", "warn", "fail")]
    if failing_tests and not failing_models:
        assert not broken, f"dbt build {' '.join(selection)}: {broken} did not run:\n{_dbt_errors(output)}"
    elif not failing_models:
        assert succeeded, f"dbt build {' '.join(selection)} failed:\n{_dbt_errors(output)}"
    return by_name


def _dbt_in_process(command: list[str], env: dict[str, str]) -> tuple[bool, str]:
    """`dbt <command>` through dbt's programmatic entry point, in this test process, with `env` set while it runs;
    returns whether it succeeded and what it printed.

    A `dbt` process of its own costs 4.5 CPU-s for a one-model build, a third of it importing dbt and leaving; the
    suite's 50-odd builds paid it each time. dbt supports invocations one after the other in one process (not at
    once: each xdist worker runs one test at a time). The project and profile are named, not found from the cwd.
    """
    import contextlib
    import io

    from dbt.cli.main import dbtRunner

    from tealeaves.dbt_cli import reuse_connections

    reuse_connections()  # as tealeaves-dbt does
    project = str(ROOT / "dbt_project")
    saved = dict(os.environ)
    printed = io.StringIO()
    os.environ.update(env)
    try:
        with contextlib.redirect_stdout(printed):
            result = dbtRunner().invoke(
                [*command, "--no-use-colors", "--project-dir", project, "--profiles-dir", project]
            )
    finally:
        os.environ.clear()
        os.environ.update(saved)
        _close_dbt_log_files()
    return result.success, printed.getvalue()


def _close_dbt_log_files() -> None:
    """dbt's next invocation drops its log file's handler without closing it (a ResourceWarning each time)."""
    from dbt_common.events.event_manager_client import cleanup_event_logger, get_event_manager

    for logger in get_event_manager().loggers:
        python_log = getattr(logger, "_python_logger", None)
        for handler in python_log.handlers if python_log is not None else ():
            handler.close()
    cleanup_event_logger()


PARTIAL_PARSE = "partial_parse.msgpack"
BUILD_DATABASE = "t_dbt_build"


@contextmanager
def _under_the_build_name(url: str):
    """The database of `url` renamed BUILD_DATABASE while dbt builds it, then given its own name back.

    dbt reuses a partial parse only for the connection it was made with (host, port, user and database: the
    profile_hash of dbt's manifest loader), and a test database is new to dbt, so every one cost a full parse of
    the project (12 to 25 s). Under one name, every build of this process against this server parses once for
    each set of vars. The tables do not notice: PostgreSQL keeps no database name in a view or an index."""
    import psycopg
    from psycopg import sql

    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    rename = "alter database {} rename to {}"
    with psycopg.connect(psycopg.conninfo.make_conninfo(url, dbname="postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL(rename).format(sql.Identifier(name), sql.Identifier(BUILD_DATABASE)))
        try:
            yield
        finally:
            admin.execute(sql.SQL(rename).format(sql.Identifier(BUILD_DATABASE), sql.Identifier(name)))


def _partial_parse(build: URL, dbt_vars: dict[str, object] | None) -> Path:
    """Where this process keeps dbt's partial parse for builds on one server with the same vars (see
    _under_the_build_name): each build writes into a target folder of its own, where dbt would otherwise parse the
    whole project afresh.

    dbt still checks what it reuses (project files, vars, profile and connection, the variables dbt_project.yml
    reads) and parses anew whatever differs, as it does for anyone running dbt twice in a project."""
    import hashlib
    import json

    inputs = {"database": build.render_as_string(hide_password=True), "vars": dbt_vars or {}}
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
    return _HOME / "dbt-partial-parse" / digest / PARTIAL_PARSE


def _reuse_partial_parse(parsed: Path, target: Path) -> None:
    if parsed.exists() and not (target / PARTIAL_PARSE).exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(parsed, target / PARTIAL_PARSE)


def _keep_partial_parse(target: Path, parsed: Path) -> None:
    if (target / PARTIAL_PARSE).exists():
        parsed.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(target / PARTIAL_PARSE, parsed.with_suffix(".tmp"))
        os.replace(parsed.with_suffix(".tmp"), parsed)


@pytest.fixture(scope="session")
def pipeline(server: Settings, tmp_path_factory):
    """Factory: generate exports, load every source and dbt-build `select`, in a database of its own.

    Returns (url, data folder, truth.json as a dict).
    """
    from tealeaves.generate import generate
    from tealeaves.load import load_paths

    def build(name: str, select: str, unit_tests: bool = False, **generate_args):
        data = tmp_path_factory.mktemp(name)
        truth = generate(data / "exports", **generate_args)
        url = create_database(server, f"t_{name}")
        load_paths(url, [p for p in sorted((data / "exports").iterdir()) if p.is_dir()])
        dbt_build(url, select, data / "dbt", unit_tests=unit_tests)
        return url, data / "exports", truth

    return build


MARTS_WORLD = {"customers": 400, "months": 12, "seed": 2024}
PREDICTED_LTV = daily_builds.PREDICTED_LTV  # dbt tag of the marts built after the LTV fit


# The daily DAG's two builds, for worlds built as it builds them: everything but the marts that read the LTV
# predictions, then those, both without dbt's unit tests (marts_world's builds run them)
DAILY_BUILD = daily_builds.BUILD_MARTS
DAILY_PREDICTED_BUILD = daily_builds.BUILD_PREDICTED_MARTS


@pytest.fixture(scope="session")
def marts_world(pipeline, server: Settings):
    """The default (dirty) generated world, loaded, built by dbt and published to `marts`, as BI would see it.

    Built once per session; every mart test reads it. Returns (url, exports folder, truth.json as a dict).
    As the daily DAG does: dbt builds everything but the marts that read LTV predictions, predict_ltv fits and
    writes schema `ltv`, dbt builds those marts (tag predicted_ltv and downstream), then the set is published.
    Its builds run every dbt unit test of the project (test_dag_files checks that): the other worlds' builds
    leave them out (DAILY_BUILD), as the DAG's do.
    """
    from tealeaves.ltv.store import predict_ltv
    from tealeaves.publish import publish_marts

    url, exports, truth = pipeline("marts", f"fqn:* --exclude tag:{PREDICTED_LTV}+", unit_tests=True, **MARTS_WORLD)
    predict_ltv(url, "marts_world")
    dbt_build(url, f"tag:{PREDICTED_LTV}+", exports.parent / "dbt-predicted", unit_tests=True)
    publish_marts(url)
    return url, exports, truth


@pytest.fixture
def published_world(marts_world, server: Settings) -> Iterator[str]:
    """A copy of the marts world's database, its audited build published once to `marts` as the fixture left it."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    source = make_url(marts_world[0]).database
    name = f"{source}_publish_copy"
    admin = server.url(server.warehouse.set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        # a file-level copy: the same tables, constraints and rows, in a second or two
        conn.execute(sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(source)))
    yield server.url(server.warehouse.set(database=name))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def incremental_plans(scratch: Path, model: str) -> list[str]:
    """The model's plans in the debug log of dbt_build(..., scratch): incremental, or why not (macro
    incremental_plan), in the order dbt logged them; none for a table built whole."""
    import re

    log = (scratch / "logs" / "dbt.log").read_text(encoding="utf-8")
    return re.findall(rf"(?<![\w.]){re.escape(model)}: ([^(\n]+) \(batches", log)


def _dbt_errors(stdout: str) -> str:
    """dbt's own lines about what failed (its log ends with a summary that names them), else the log's tail."""
    lines = stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if "Completed with" in line]
    return "\n".join(lines[starts[-1] :]) if starts else stdout[-4000:]
