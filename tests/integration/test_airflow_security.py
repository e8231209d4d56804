"""Airflow is locked by default: `tealeaves airflow up` asks for a login and listens on loopback only.

The real `tealeaves airflow up` (API server, scheduler, DAG processor, triggerer, log servers) runs on the session's
PostgreSQL, on free ports, as a user would start it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import stat
import subprocess
import textwrap
import time

import httpx
import psutil
import pytest

from tests.conftest import TEALEAVES, free_port

STARTUP_SECONDS = 240
STOP_SECONDS = 90


def _listening(root: psutil.Process) -> set[tuple[str, int]]:
    """(address, port) of every listening TCP socket of `root` and its descendants."""
    found = set()
    for process in [root, *root.children(recursive=True)]:
        try:
            connections = process.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found |= {(c.laddr.ip, c.laddr.port) for c in connections if c.status == psutil.CONN_LISTEN}
    return found


@pytest.fixture(scope="module")
def airflow_up(airflow_ready, tmp_path_factory):
    """`tealeaves airflow up` started for the first time; yields (API URL, its output file, ports, process)."""
    settings = airflow_ready
    # The first start is what this module checks, whatever ran before it in the session.
    settings.airflow_passwords_file.unlink(missing_ok=True)
    ports = {"api": free_port(), "worker_logs": free_port(), "trigger_logs": free_port()}
    env = {
        **os.environ,
        "TEALEAVES_AIRFLOW_PORT": str(ports["api"]),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports["worker_logs"]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports["trigger_logs"]),
        "AIRFLOW__API__WORKERS": "1",  # the machine is small; one worker answers a test
        # no scheduled run of the daily DAG in the background: this module checks logins and listeners, and the
        # run's dbt build would take the other test process's CPU and hold the scheduler's stop until it ended
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
    }
    output = tmp_path_factory.mktemp("airflow-up") / "output.txt"
    with open(output, "w") as out:
        up = subprocess.Popen(
            [TEALEAVES, "airflow", "up"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    root = psutil.Process(up.pid)
    url = f"http://127.0.0.1:{ports['api']}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert up.poll() is None, f"tealeaves airflow up exited {up.returncode}:\n{output.read_text()[-3000:]}"
            listening = {port for _, port in _listening(root)}
            if set(ports.values()) <= listening and _answers(url):
                break
            assert time.monotonic() < deadline, (
                f"not listening with a healthy scheduler after {STARTUP_SECONDS}s:\n{output.read_text()[-3000:]}"
            )
            time.sleep(2)
        yield url, output, ports, root
    finally:
        _stop(up)


def _answers(url: str) -> bool:
    """The API answers, and by Airflow's own rule its scheduler is up (the refusal below reads the same heartbeat);
    the ports alone do not say so, two of them being log servers'."""
    try:
        health = httpx.get(f"{url}/api/v2/monitor/health", timeout=5)
    except httpx.HTTPError:
        return False
    return health.status_code == 200 and health.json()["scheduler"]["status"] == "healthy"


def _stop(up: subprocess.Popen) -> None:
    """SIGTERM to `tealeaves airflow up`, which stops its children; then the whole group if it did not."""
    if up.poll() is None:
        up.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            up.wait(timeout=STOP_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(up.pid, signal.SIGKILL)  # its own session: only what this test started
    up.wait(timeout=10)


def _token(url: str, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{url}/auth/token", json={"username": username, "password": password}, timeout=30)


def test_without_a_login_the_api_refuses_to_read_or_write(airflow_up):
    url, *_ = airflow_up
    assert httpx.get(f"{url}/api/v2/dags", timeout=30).status_code in (401, 403)
    write = httpx.post(f"{url}/api/v2/variables", json={"key": "probe", "value": "x"}, timeout=30)
    assert write.status_code in (401, 403)


def test_no_token_is_given_without_credentials(airflow_up):
    url, *_ = airflow_up
    anonymous = httpx.get(f"{url}/auth/token", timeout=30)
    assert anonymous.status_code >= 400
    assert "access_token" not in anonymous.text
    assert _token(url, "admin", "not-the-password").status_code == 401


def test_the_generated_admin_password_logs_in_and_reads_the_dags(airflow_up, settings):
    url, *_ = airflow_up
    password = _admin_password(settings)
    login = _token(url, "admin", password)
    assert login.status_code in (200, 201)
    token = login.json()["access_token"]
    dags = httpx.get(f"{url}/api/v2/dags", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert dags.status_code == 200
    assert isinstance(dags.json()["dags"], list)


def test_the_password_file_is_private_and_the_password_shown_once_never_logged(airflow_up, settings):
    _, output, _, root = airflow_up
    path = settings.airflow_passwords_file
    assert path.parent == settings.home
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.home.stat().st_mode) & 0o066 == 0  # no one else lists or writes the folder
    password = _admin_password(settings)
    # Printed once by tealeaves; Airflow, whose output shares the terminal, found it in the file and printed nothing.
    assert output.read_text().count(password) == 1
    for process in [root, *root.children(recursive=True)]:
        try:
            arguments = process.cmdline()
        except psutil.NoSuchProcess:  # ended since it was listed (a zombie too): it has no command line to show
            continue
        assert not any(password in arg for arg in arguments)
    logs = settings.airflow_home / "logs"
    for log in (p for p in logs.rglob("*") if p.is_file()) if logs.exists() else ():
        assert password not in log.read_text(errors="replace"), log


def test_every_process_listens_on_loopback_only(airflow_up):
    _, _, ports, root = airflow_up
    listening = _listening(root)
    assert set(ports.values()) <= {port for _, port in listening}
    assert listening and all(ipaddress.ip_address(address).is_loopback for address, _ in listening), listening


def test_a_new_password_replaces_the_old_one_at_once(airflow_up, settings):
    url, *_ = airflow_up
    old = _admin_password(settings)
    result = subprocess.run([TEALEAVES, "airflow", "password"], env=os.environ, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    new = _admin_password(settings)
    assert new != old and new in result.stdout
    assert stat.S_IMODE(settings.airflow_passwords_file.stat().st_mode) == 0o600
    assert _token(url, "admin", old).status_code == 401
    assert _token(url, "admin", new).status_code in (200, 201)


def _admin_password(settings) -> str:
    import json

    return json.loads(settings.airflow_passwords_file.read_text())["admin"]


TINY_DAG = textwrap.dedent(
    """
    from airflow.sdk import dag, task


    # paused: the module's running scheduler examines the running runs of unpaused DAGs, and would queue this
    # run's tasks beside dag.test() running them (a run that failed once under load)
    @dag(schedule=None, is_paused_upon_creation=True)
    def login_free_probe():
        @task
        def produce():
            return 42

        @task
        def consume(value):
            assert value == 42

        consume(produce())


    login_free_probe()
    """
)


def test_a_run_beside_the_running_scheduler_is_refused_with_the_reason(airflow_up, tmp_path):
    """`tealeaves run` uses `airflow dags test`, whose running run the scheduler of `tealeaves airflow up` would also
    pick up (tealeaves_daily is not paused): the run stops before the DAG starts, in one line."""
    from tealeaves.generate import generate

    generate(tmp_path / "exports", customers=20, months=2, seed=3)
    result = subprocess.run(
        [TEALEAVES, "run", "--data", str(tmp_path / "exports")], capture_output=True, text=True, timeout=300
    )
    assert result.returncode != 0
    assert "Airflow's scheduler is running for this home" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    # "running" is Airflow's own health threshold, read from the setting Airflow reads
    setting = "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD"
    result = subprocess.run(
        [TEALEAVES, "run", "--data", str(tmp_path / "exports")],
        env={**os.environ, setting: "soon"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert result.stderr.strip().endswith(f"{setting}='soon' is not a number of seconds"), result.stderr[-2000:]


def test_dag_test_runs_tasks_without_a_login(airflow_ready, tmp_path):
    """`tealeaves run`, `demo` and the DAG tests use `airflow dags test`: its tasks talk to Airflow with no login."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    assert os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"
    (tmp_path / "login_free_probe.py").write_text(TINY_DAG)
    DagBundlesManager().sync_bundles_to_db()
    bag = BundleDagBag(dag_folder=str(tmp_path), bundle_path=tmp_path, bundle_name="dags-folder")
    assert bag.import_errors == {}
    sync_bag_to_db(bag, "dags-folder", None)
    run = bag.dags["login_free_probe"].test()
    assert run.state == "success"
