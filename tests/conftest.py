"""Shared fixtures: one real embedded PostgreSQL per test session, in a temporary home on a free port.

The environment is set here, at import, because Airflow reads its configuration when first imported and
test modules import it.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_HOME = Path(tempfile.mkdtemp(prefix="tealeaves-test-"))
os.environ.pop("TEALEAVES_DATABASE_URL", None)
os.environ["TEALEAVES_HOME"] = str(_HOME)
os.environ["TEALEAVES_PG_PORT"] = str(free_port())

from tealeaves import airflow_env  # noqa: E402
from tealeaves.config import Settings, get_settings  # noqa: E402

airflow_env.apply(get_settings())
sys.path.insert(0, str(ROOT / "plugins"))  # as Airflow does for its plugins folder


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


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
    import psycopg
    from psycopg import sql

    name = "t_" + "".join(ch if ch.isalnum() else "_" for ch in request.node.name.lower())[:50]
    admin = server.url(server.warehouse.set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return server.url(server.warehouse.set(database=name))
