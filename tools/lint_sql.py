"""`make lint`, SQL half: sqlfluff with the dbt templater on dbt_project/models, against dbt_project/.sqlfluff.

sqlfluff lives in a virtualenv of its own (.venv-lint, from requirements-lint.lock): its pins (click<8.5) clash
with Airflow's. The dbt templater compiles the project as dbt does, and dbt opens a connection to compile, so
it gets an empty database of its own, `tealeaves_sqllint`, on the warehouse's server: an empty database keeps
the compiled SQL independent of what the warehouse holds (an incremental model compiles differently once it
exists). The embedded server is started for it when it is not running, and stopped again afterwards.

    .venv/bin/python tools/lint_sql.py [lint|fix] [sqlfluff options and paths, e.g. models/marts]

`fix` rewrites what sqlfluff can mend (layout, mostly); check the diff and the marts (bench/compare_marts.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg

from tealeaves.airflow_env import airflow_environ
from tealeaves.config import Settings, get_settings
from tealeaves.db import EmbeddedPostgres
from tealeaves.db.setup import ensure_database

ROOT = Path(__file__).resolve().parents[1]
SQLFLUFF = ROOT / ".venv-lint" / "bin" / "sqlfluff"
LINT_DATABASE = "tealeaves_sqllint"


def lint_database(settings: Settings) -> str:
    """The URL of an empty database for the templater's connection, made if missing."""
    admin = settings.url(settings.warehouse.set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        ensure_database(conn, LINT_DATABASE)
    return settings.url(settings.warehouse.set(database=LINT_DATABASE))


def main(args: list[str]) -> int:
    if not SQLFLUFF.exists():
        print(f"sqlfluff is not installed in {SQLFLUFF.parent.parent}: run `make lint`", file=sys.stderr)
        return 2
    settings = get_settings()
    server = EmbeddedPostgres(settings.pg_data, settings.pg_port, settings.pg_password_file)
    started = settings.embedded and not server.status().running
    if started:
        server.start()
    try:
        env = {**os.environ, **airflow_environ(Settings(database_url=lint_database(settings)))}
        with tempfile.TemporaryDirectory(prefix="tealeaves-sqllint-") as scratch:
            env.update(DBT_TARGET_PATH=str(Path(scratch) / "target"), DBT_LOG_PATH=str(Path(scratch) / "logs"))
            action, rest = (args[0], args[1:]) if args[:1] in (["lint"], ["fix"]) else ("lint", args)
            # one process per CPU (0 = all): the dbt templater compiles once per process, then files are shared
            # out; on 2 cores 47 s instead of 89 s for the whole project
            command = [str(SQLFLUFF), action, "--processes", "0", *(rest or ["models"])]
            return subprocess.run(command, cwd=ROOT / "dbt_project", env=env, check=False).returncode
    finally:
        if started:
            server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
