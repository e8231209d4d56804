"""Apache Superset on 127.0.0.1, started in the background by `tealeaves bi up` and stopped by `tealeaves bi down`.

Superset runs from its own virtualenv (.venv-bi, `make bi-install`): its pins (SQLAlchemy 1.4, its Flask stack)
clash with Airflow's. Its metadata lives in a database `superset` on the warehouse's server, which only
tealeaves' own user may reach; it reads the warehouse through the reader login `superset` (group `bi_reader`:
`marts` and `quality` only). Everything it needs is in the home's `superset/` folder, made 0700:

- `superset_config.py`, written at every start from the settings (0600: it holds the metadata database's URL);
- `secret-key`, `admin.password`, `reader.password`: generated once, 0600, never printed but the admin's password,
  once, on the terminal that made it;
- `dashboards.zip`, the bundle of bi/superset/ imported at every start (the repository's YAML is the truth).

The web server is gunicorn, bound to 127.0.0.1 only; its log is `logs/superset.log` in the home.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tealeaves.airflow_env import QUIET
from tealeaves.bi import config_file
from tealeaves.bi.bundle import BundleError, check_source
from tealeaves.config import Settings
from tealeaves.db.embedded import port_in_use
from tealeaves.secret_files import made_secret, make_private, write_secret
from tealeaves.state import UMASK, private_folder, private_opener

HOST = "127.0.0.1"  # never a wildcard: Superset has a login, but a BI tool on the network is the DBA's decision
METADATA_DB = "superset"
READER_LOGIN = "superset"
ADMIN = "admin"
START_TIMEOUT = 300.0  # seconds for gunicorn to load Superset and answer; about 10 on a warm machine
STOP_TIMEOUT = 30.0
# One worker with threads: Superset's default filter-state and explore caches live in the worker's memory, so
# several workers would each hold their own; a BI tool for one team on 2 cores needs no more.
GUNICORN = ["--workers", "1", "--worker-class", "gthread", "--threads", "8", "--timeout", "120"]


class BiError(RuntimeError):
    """Anything that keeps Superset from starting or stopping, in one line a person can act on."""


@dataclass(frozen=True)
class Places:
    folder: Path
    venv: Path
    dashboards: Path
    log: Path
    setup_log: Path

    @property
    def config(self) -> Path:
        return self.folder / "superset_config.py"

    @property
    def secret_key(self) -> Path:
        return self.folder / "secret-key"

    @property
    def admin_password(self) -> Path:
        return self.folder / "admin.password"

    @property
    def reader_password(self) -> Path:
        return self.folder / "reader.password"

    @property
    def pid(self) -> Path:
        return self.folder / "superset.pid"

    @property
    def bundle(self) -> Path:
        return self.folder / "dashboards.zip"

    @property
    def plan(self) -> Path:
        return self.folder / "setup-plan.json"

    @property
    def state(self) -> Path:
        return self.folder / "setup-state.json"

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name


def places(settings: Settings) -> Places:
    return Places(
        folder=settings.home / "superset",
        venv=settings.bi_venv,
        dashboards=settings.project_root / "bi" / "superset",
        log=settings.home / "logs" / "superset.log",
        setup_log=settings.home / "logs" / "superset-setup.log",
    )


def url(settings: Settings) -> str:
    return f"http://{HOST}:{settings.bi_port}"


@dataclass(frozen=True)
class Status:
    running: bool
    pid: int | None
    answering: bool


@dataclass(frozen=True)
class Started:
    url: str
    pid: int
    new_admin_password: str | None  # shown once, on the first start
    already_running: bool
    seconds: float


# -- status ------------------------------------------------------------------------------------------------------
def status(settings: Settings) -> Status:
    where = places(settings)
    pid = _our_pid(where)
    return Status(pid is not None, pid, pid is not None and _answers(f"{url(settings)}/health"))


def _our_pid(where: Places) -> int | None:
    """The gunicorn master tealeaves started, if it still runs; a stale pid file (a reused pid) is ignored."""
    try:
        pid = int(where.pid.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return None  # another user's process: not ours
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists() and str(where.bin("gunicorn")).encode() not in cmdline.read_bytes():
        return None
    return pid


def _answers(address: str, timeout: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(address, timeout=timeout) as response:  # noqa: S310 - our own loopback URL
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


# -- up ----------------------------------------------------------------------------------------------------------
def up(settings: Settings, say: Callable[[str], object] = lambda _: None) -> Started:
    """Prepare everything Superset needs, start it in the background and wait until its login page answers."""
    began = time.monotonic()
    where = places(settings)
    if not where.bin("gunicorn").exists():
        raise BiError(f"Superset is not installed in {where.venv}: run `make bi-install` (about 800 MB)")
    current = status(settings)
    if current.running:
        return Started(url(settings), current.pid or 0, None, True, 0.0)
    if port_in_use(settings.bi_port, HOST):
        raise BiError(
            f"port {settings.bi_port} on {HOST} is taken by another program: stop it or set TEALEAVES_BI_PORT"
        )
    private_folder(where.folder)
    private_folder(where.log.parent)

    from tealeaves.orchestrate import start_server

    say("starting the warehouse's server")
    start_server(settings)
    say("preparing Superset's metadata database and reader login")
    import psycopg

    from tealeaves.db.roles import RoleError, create_reader_login

    reader_password = made_secret(where.reader_password, 18)
    try:
        _ensure_metadata_database(settings)
        create_reader_login(settings.url(), READER_LOGIN, reader_password)
    except RoleError as exc:
        raise BiError(f"Superset's reader login: {exc}") from None
    except psycopg.OperationalError:
        raise  # the server is down: the CLI says so as for every command (exit 3)
    except psycopg.Error as exc:  # e.g. a user of an external server who may not create databases
        reason = exc.diag.message_primary or type(exc).__name__
        raise BiError(f"cannot prepare database {METADATA_DB!r} and login {READER_LOGIN!r}: {reason}") from None
    _write_config(settings, where)

    new_password = None
    if where.admin_password.exists():
        make_private(where.admin_password)
        admin_password = where.admin_password.read_text().strip()
    else:
        new_password = admin_password = made_secret(where.admin_password, 18)

    try:
        check_source(where.dashboards)
    except BundleError as exc:
        raise BiError(str(exc)) from None
    migrate = _needs_migration(where, settings)
    pid = None
    try:
        if not migrate:  # the tables are current: gunicorn loads Superset while the import runs beside it
            say("starting Superset's web server and importing the dashboards")
            pid = _serve(settings, where)
        else:
            say("migrating Superset's metadata database and importing the dashboards")
        _setup(where, settings, migrate, admin_password, reader_password)
        if pid is None:
            say("starting Superset's web server")
            pid = _serve(settings, where)
        _wait_until_ready(settings, where, pid)
    except BaseException:
        if pid is not None and _our_pid(where) == pid:
            _stop_group(pid)
            where.pid.unlink(missing_ok=True)
        if new_password is not None:  # never shown: the next start makes and shows another
            where.admin_password.unlink(missing_ok=True)
        raise
    return Started(url(settings), pid, new_password, False, time.monotonic() - began)


def _ensure_metadata_database(settings: Settings) -> None:
    """A database `superset` on the warehouse's server, closed to everyone but tealeaves' own user."""
    import psycopg

    from tealeaves.db.setup import close_to_public, ensure_database

    with psycopg.connect(settings.url(), autocommit=True, connect_timeout=10) as conn:
        ensure_database(conn, METADATA_DB)
        close_to_public(conn, METADATA_DB)


def superset_environ(settings: Settings) -> dict[str, str]:
    where = places(settings)
    return {
        **QUIET,
        "SUPERSET_CONFIG_PATH": str(where.config),
        "SUPERSET_HOME": str(where.folder),  # Superset's DATA_DIR: uploads and its own files, inside the home
        "FLASK_APP": "superset.app:create_app()",
        "PYTHONUNBUFFERED": "1",
    }


# Not handed to Superset: tealeaves' and Airflow's settings (TEALEAVES_DATABASE_URL holds the superuser's
# password), libpq's (PGPASSWORD), dbt's, and another Python's or Superset's.
FOREIGN = ("TEALEAVES_", "AIRFLOW", "PG", "DBT_", "SUPERSET", "FLASK", "PYTHON", "VIRTUAL_ENV")


def _env(settings: Settings) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.upper().startswith(FOREIGN)}
    return {**keep, **superset_environ(settings)}


def _write_config(settings: Settings, where: Places) -> None:
    made_secret(where.secret_key, 42)
    metadata = settings.url(settings.warehouse.set(database=METADATA_DB), "postgresql+psycopg2")
    write_secret(where.config, render_config(metadata, where.secret_key, where.folder))


def render_config(metadata_url: str, secret_key_file: Path, folder: Path) -> str:
    """superset_config.py: its metadata database, its secret (read from the 0600 file), and a localhost posture."""
    return config_file.render(
        repr(metadata_url),
        f"Path({str(secret_key_file)!r}).read_text().strip()",
        repr(str(folder)),
        "Written by `tealeaves bi up` at every start from tealeaves' settings: edits here are lost (docs/bi.md).",
    )


def _needs_migration(where: Places, settings: Settings) -> bool:
    """Migrate and init only on the first start, after Superset's upgrade, or on another metadata database."""
    state = _read_state(where)
    return state.get("superset") != _superset_version(where) or state.get("metadata") != _metadata_id(settings)


def login_notice(settings: Settings, password: str) -> str:
    """What a person is told, on their terminal only, the one time a password is made."""
    return (
        f"Superset login: {ADMIN} / {password}\n"
        f"  shown this once; kept only in {places(settings).admin_password} (mode 0600)."
        " `tealeaves bi password` makes a new one."
    )


def new_admin_password(settings: Settings) -> str:
    """A fresh password for Superset's admin, in its file and in Superset's tables; the old one stops at once.

    Superset checks the password at each login, so a running Superset needs no restart.
    """
    where = places(settings)
    if not where.bin("python").exists():
        raise BiError(f"Superset is not installed in {where.venv}: run `make bi-install`")
    if not where.state.exists() or not where.admin_password.exists():
        raise BiError("Superset was never started here: `tealeaves bi up` makes the admin and shows its password")
    _write_config(settings, where)
    password = secrets.token_urlsafe(18)
    previous = where.admin_password.read_text()
    write_secret(where.admin_password, password)
    try:
        _run_setup(where, settings, {"migrate": False, "admin_password": password})
    except BaseException:
        write_secret(where.admin_password, previous)  # Superset kept the old one
        raise
    return password


def rotate_secret_key(settings: Settings, say: Callable[[str], object] = lambda _: None) -> bool:
    """A new secret key for Superset, 0600; what Superset encrypted with the old one is re-encrypted with it.

    Superset holds its key in memory, so a running Superset is stopped first and started again afterwards
    (returns True then): every session signed with the old key ends, and people log in again. If the
    re-encryption fails, the old key goes back in place and nothing changed.
    """
    where = places(settings)
    if not where.bin("python").exists():
        raise BiError(f"Superset is not installed in {where.venv}: run `make bi-install`")
    if not where.state.exists() or not where.secret_key.exists():
        raise BiError("Superset was never started here: `tealeaves bi up` makes its secret key")
    was_running = status(settings).running
    if was_running:
        say("stopping Superset: it keeps its key in memory")
        down(settings)
    make_private(where.secret_key)
    previous = where.secret_key.read_text().strip()
    write_secret(where.secret_key, secrets.token_urlsafe(42))
    try:
        _write_config(settings, where)
        say("re-encrypting Superset's stored secrets with the new key")
        _run_setup(where, settings, {"previous_secret_key": previous})
    except BaseException:
        write_secret(where.secret_key, previous)  # Superset's tables still hold what the old key encrypted
        raise
    finally:
        if was_running:
            say("starting Superset again")
            up(settings, say)
    return was_running


def _setup(where: Places, settings: Settings, migrate: bool, admin_password: str, reader_password: str) -> None:
    """Run superset_setup.py in Superset's interpreter: migration, admin login, import of bi/superset/, pruning."""
    version = _superset_version(where)
    plan = {
        "migrate": migrate,
        "admin_password": admin_password,
        "dashboards": str(where.dashboards),
        "warehouse": settings.warehouse.set(password=None).render_as_string(),
        "reader_login": READER_LOGIN,
        "reader_password": reader_password,
        "bundle": str(where.bundle),
    }
    try:
        _run_setup(where, settings, plan)
    finally:
        where.bundle.unlink(missing_ok=True)
    write_secret(where.state, json.dumps({"superset": version, "metadata": _metadata_id(settings)}))


def _run_setup(where: Places, settings: Settings, plan: dict) -> None:
    write_secret(where.plan, json.dumps(plan))
    script = Path(__file__).with_name("superset_setup.py")
    try:
        with open(where.setup_log, "a", opener=private_opener) as log:
            result = subprocess.run(
                [str(where.bin("python")), "-I", str(script), str(where.plan)],
                env=_env(settings),
                stdout=log,
                stderr=subprocess.PIPE,
                text=True,
                umask=UMASK,
                cwd=where.folder,
            )
            log.write(result.stderr)
    finally:
        where.plan.unlink(missing_ok=True)
    if result.returncode != 0:
        reason = _setup_error(result.stderr)
        raise BiError(f"Superset setup failed: {reason} (full log: {where.setup_log})")


def _setup_error(stderr: str) -> str:
    for line in reversed(stderr.splitlines()):
        if line.startswith("tealeaves-setup-error: "):
            return line.removeprefix("tealeaves-setup-error: ")
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no reason given"


def _superset_version(where: Places) -> str:
    found = sorted(where.venv.glob("lib/python*/site-packages/apache_superset-*.dist-info"))
    return found[-1].name.removesuffix(".dist-info").split("-", 1)[1] if found else "unknown"


def _metadata_id(settings: Settings) -> str:
    """Which metadata database the state file speaks of (no password): another server needs migrating anew."""
    return settings.warehouse.set(database=METADATA_DB, password=None).render_as_string()


def _read_state(where: Places) -> dict:
    try:
        return json.loads(where.state.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _serve(settings: Settings, where: Places) -> int:
    command = [
        str(where.bin("gunicorn")),
        "--bind",
        f"{HOST}:{settings.bi_port}",
        *GUNICORN,
        "--access-logfile",
        "-",
        "superset.app:create_app()",
    ]
    with open(where.log, "a", opener=private_opener) as log:
        process = subprocess.Popen(
            command,
            env=_env(settings),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            umask=UMASK,
            cwd=where.folder,
            start_new_session=True,  # its own process group: Ctrl-C on this terminal leaves it running
        )
    write_secret(where.pid, f"{process.pid}\n")
    return process.pid


def _wait_until_ready(settings: Settings, where: Places, pid: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    login = f"{url(settings)}/login/"
    while time.monotonic() < deadline:
        if _exited(pid):
            where.pid.unlink(missing_ok=True)
            raise BiError(f"Superset stopped while starting: {_last_error(where.log)} (full log: {where.log})")
        if _answers(f"{url(settings)}/health", timeout=2) and _answers(login, timeout=10):
            return
        time.sleep(0.5)
    _stop_group(pid)
    where.pid.unlink(missing_ok=True)
    raise BiError(f"Superset did not answer on {login} within {START_TIMEOUT:.0f} s (full log: {where.log})")


def _exited(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child (another tealeaves process started it)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return finished == pid


def _last_error(log: Path) -> str:
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    for line in reversed(lines[-200:]):
        if "Error" in line or "error" in line:
            return line[:300]
    return lines[-1][:300] if lines else "no output"


# -- down --------------------------------------------------------------------------------------------------------
def down(settings: Settings) -> bool:
    """Stop Superset's web server; returns False when it was not running."""
    where = places(settings)
    pid = _our_pid(where)
    if pid is None:
        where.pid.unlink(missing_ok=True)
        return False
    _stop_group(pid)
    where.pid.unlink(missing_ok=True)
    return True


def _stop_group(pid: int) -> None:
    """SIGTERM to gunicorn's process group (master and worker), SIGKILL after STOP_TIMEOUT."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if _exited(pid):
            return
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
