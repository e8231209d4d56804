"""Nothing tealeaves writes in its home (`.tealeaves/`) can be read by another user of the machine.

The home holds customer exports, the server's log (which quotes statements and rows), Airflow's logs and secrets.
The first steps of `make demo` run here for real in a home of their own: the embedded server's first start,
dbt's manifest and Airflow's metadata (`prepare`), the demo's sample company; then the CLI writes exports and
libpq's files there and Airflow makes a task log, as a process tealeaves did not start would.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tealeaves import orchestrate
from tealeaves.airflow_env import airflow_environ
from tealeaves.config import Settings
from tealeaves.db import EmbeddedPostgres
from tests.cli import tealeaves

TASK_LOG = "dag_id=privacy_probe/run_id=manual__probe/task_id=say/attempt=1.log"
MAKE_TASK_LOG = f"from airflow.sdk.log import init_log_file; print(init_log_file({TASK_LOG!r}))"


def loose(home: Path) -> list[Path]:
    """Everything below `home` that its group or others may read, write or enter."""
    found = []
    for folder, folders, files in os.walk(home):
        for name in [*folders, *files]:
            mode = os.lstat(Path(folder, name)).st_mode
            if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & 0o077:
                found.append(Path(folder, name))
    return found


def home_is_private(home: Path) -> bool:
    """0700; as root, others may also traverse it, since the server runs as a system user (db/embedded.py)."""
    allowed = stat.S_IXOTH if os.geteuid() == 0 else 0
    return stat.S_IMODE(home.stat().st_mode) & 0o077 & ~allowed == 0


def user_umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


@pytest.fixture
def demo_home(cli_env, manifest):
    """Settings for the home in `cli_env`, whose embedded server is stopped afterwards."""
    settings = Settings(home=Path(cli_env["TEALEAVES_HOME"]), pg_port=int(cli_env["TEALEAVES_PG_PORT"]))
    yield settings
    EmbeddedPostgres(settings.pg_data, settings.pg_port, settings.pg_password_file).stop()


def test_what_make_demo_writes_in_the_home_is_for_its_user_only(demo_home, cli_env):
    settings, home = demo_home, demo_home.home
    orchestrate.prepare(settings)  # initdb, pg_ctl and its log, the password, Airflow's home and metadata
    orchestrate.demo_world(settings, customers=20, months=1)  # in this process, under pytest's umask
    for args in (
        ["generate", "--out", str(home / "data"), "--customers", "20", "--months", "1"],
        ["sample", "cdnow", "--out", str(home / "cdnow")],
        ["db", "service"],
    ):
        result = tealeaves(cli_env, *args)
        assert result.returncode == 0, result.stderr
    # Airflow's own task-log files, in a process started without tealeaves' umask (as systemd or a shell would).
    made = subprocess.run(
        [sys.executable, "-c", MAKE_TASK_LOG],
        env={**os.environ, **airflow_environ(settings)},
        capture_output=True,
        text=True,
        umask=user_umask(),
    )
    assert made.returncode == 0, made.stderr

    written = {p.relative_to(home).parts[0] for p in home.rglob("*") if p.is_file()}
    assert {"pg", "postgres.log", "airflow", "demo", "data", "cdnow", "libpq", "pg.password"} <= written
    assert (settings.airflow_home / "logs" / TASK_LOG).is_file()
    assert home_is_private(home)
    exposed = loose(home)
    assert [path for path in exposed if not path.is_dir()] == []
    # Airflow makes a task log's missing parent folders by the process's umask (only the last by its setting): 077
    # under tealeaves, and elsewhere they lie inside Airflow's logs folder, which tealeaves closes.
    logs = settings.airflow_home / "logs"
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    assert [path for path in exposed if logs not in path.parents] == []


def test_exports_written_outside_the_home_keep_the_users_umask(cli_env, tmp_path):
    out = tmp_path / "exports"
    result = tealeaves(cli_env, "generate", "--out", str(out), "--customers", "20", "--months", "1")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((out / "truth.json").stat().st_mode) == 0o666 & ~user_umask()
    assert stat.S_IMODE((out / "billing").stat().st_mode) == 0o777 & ~user_umask()


def test_a_home_made_before_this_rule_is_taken_back_by_the_next_command(cli_env):
    """Older versions wrote the home's files readable; closing every folder in it hides them, however deep."""
    home = Path(cli_env["TEALEAVES_HOME"])
    (home / "demo" / "data").mkdir(parents=True)
    (home / "demo" / "data" / "customers.csv").write_text("id,email\n1,someone@example.com\n")
    (home / "postgres.log").write_text("LOG:  statement: select 1\n")
    for path in (home, home / "demo", home / "demo" / "data"):
        path.chmod(0o755)
    for path in (home / "demo" / "data" / "customers.csv", home / "postgres.log"):
        path.chmod(0o644)
    result = tealeaves(cli_env, "db", "url")  # any command that reads the settings
    assert result.returncode == 0, result.stderr
    assert home_is_private(home)
    assert stat.S_IMODE((home / "demo").stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "postgres.log").stat().st_mode) == 0o600
