"""The `tealeaves db` commands against a real embedded server: idempotent start, clear errors, clean stop."""

from __future__ import annotations

import socket
import stat
from datetime import date
from pathlib import Path

import psycopg
import pytest

from tests.cli import psql, tealeaves
from tests.conftest import free_port


@pytest.fixture
def running(cli_env):
    started = tealeaves(cli_env, "db", "start")
    assert started.returncode == 0, started.stderr
    yield cli_env
    tealeaves(cli_env, "db", "stop")


def test_start_is_idempotent_and_url_works_with_a_real_client(running):
    again = tealeaves(running, "db", "start")
    assert again.returncode == 0, again.stderr
    url = tealeaves(running, "db", "url").stdout.strip()
    assert url.startswith("postgresql://postgres:") and f":{running['TEALEAVES_PG_PORT']}/tealeaves" in url
    with psycopg.connect(url) as conn:
        databases = {r[0] for r in conn.execute("select datname from pg_database")}
    assert {"tealeaves", "airflow"} <= databases
    status = tealeaves(running, "db", "status")
    assert status.returncode == 0 and "running on 127.0.0.1" in status.stdout


def test_db_service_connects_psql_with_no_password_in_its_argv_or_environment(running):
    result = tealeaves(running, "db", "service")
    assert result.returncode == 0, result.stderr
    service_file = Path(result.stdout.strip())
    password = (Path(running["TEALEAVES_HOME"]) / "pg.password").read_text().strip()
    assert password not in result.stdout + result.stderr
    argv, env, output = psql(service_file, "service=tealeaves", "select current_user, current_database()")
    assert output == "postgres|tealeaves"
    assert not any(password in part for part in [*argv, *env.values()])
    assert stat.S_IMODE(service_file.parent.stat().st_mode) == 0o700
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in service_file.parent.iterdir()} == {
        "pg_service.conf": 0o600,
        "tealeaves.pgpass": 0o600,
    }


def test_the_servers_default_zone_is_utc_whatever_the_hosts(cli_env):
    """initdb copies the host's zone: on a host in Kolkata a session's timestamptz casts would read Kolkata days."""
    in_kolkata = {**cli_env, "TZ": "Asia/Kolkata"}
    started = tealeaves(in_kolkata, "db", "start")
    assert started.returncode == 0, started.stderr
    try:
        with psycopg.connect(tealeaves(in_kolkata, "db", "url").stdout.strip()) as conn:
            zone, day = conn.execute(
                "select current_setting('TimeZone'), '2025-01-01 20:00:00+00'::timestamptz::date"
            ).fetchone()
    finally:
        tealeaves(in_kolkata, "db", "stop")
    assert (zone, day) == ("UTC", date(2025, 1, 1))


def test_start_on_another_port_while_running_says_which_port(running):
    other = {**running, "TEALEAVES_PG_PORT": str(free_port())}
    result = tealeaves(other, "db", "start")
    assert result.returncode == 1
    assert f"already running on port {running['TEALEAVES_PG_PORT']}" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_taken_by_another_program_is_refused_clearly(cli_env):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = tealeaves({**cli_env, "TEALEAVES_PG_PORT": str(port)}, "db", "start")
    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 is taken by another program" in result.stderr
    assert "Traceback" not in result.stderr


def test_stop_then_status_reports_stopped(running):
    assert tealeaves(running, "db", "stop").stdout.strip() == "stopped"
    status = tealeaves(running, "db", "status")
    assert status.returncode == 3 and "stopped" in status.stdout
    assert tealeaves(running, "db", "stop").stdout.strip() == "not running"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://user@localhost/db", "must be a postgresql:// URL"),
        ("postgresql://user@localhost", "must name a database"),
    ],
)
def test_bad_database_url_is_rejected_before_anything_runs(cli_env, url, message):
    result = tealeaves({**cli_env, "TEALEAVES_DATABASE_URL": url}, "db", "start")
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_unreachable_database_url_fails_with_the_server_named(cli_env):
    port = free_port()  # nothing listens here
    url = f"postgresql://someone:secret@127.0.0.1:{port}/warehouse"
    result = tealeaves({**cli_env, "TEALEAVES_DATABASE_URL": url}, "db", "status")
    assert result.returncode == 3
    assert f"127.0.0.1:{port}" in result.stderr and "secret" not in result.stderr


def test_external_url_means_no_embedded_server_is_started(cli_env, warehouse_url):
    result = tealeaves({**cli_env, "TEALEAVES_DATABASE_URL": warehouse_url}, "db", "start")
    assert result.returncode == 0, result.stderr
    assert "not starting an embedded one" in result.stdout
    assert tealeaves({**cli_env, "TEALEAVES_DATABASE_URL": warehouse_url}, "db", "url").stdout.strip() == warehouse_url


def test_rotating_the_superuser_password_locks_the_old_one_out_and_keeps_tealeaves_working(running, tmp_path):
    old = tealeaves(running, "db", "url").stdout.strip()
    service = tealeaves(running, "db", "service")
    assert service.returncode == 0, service.stderr
    rotated = tealeaves(running, "db", "password")
    assert rotated.returncode == 0, rotated.stderr
    new = tealeaves(running, "db", "url").stdout.strip()
    assert new != old
    assert new.split("@")[0].split(":")[-1] not in rotated.stdout + rotated.stderr, "printed nowhere"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(old).close()
    psycopg.connect(new).close()
    _, _, user = psql(Path(service.stdout.strip()), "service=tealeaves", "select current_user")
    assert user == "postgres", "the service's password file follows the rotation"
    assert tealeaves(running, "db", "status").returncode == 0
    password_file = Path(running["TEALEAVES_HOME"]) / "pg.password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert not list(password_file.parent.glob("pg.password.*")), "no pending copy left behind"
