"""Running tealeaves' own command line, and the embedded server's psql, from a test, as a user would."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tealeaves.db.embedded import bin_dir
from tests.conftest import TEALEAVES


def tealeaves(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`tealeaves ARGS` in `env` (give a whole DAG run a longer `timeout`); its output captured as text."""
    return subprocess.run([TEALEAVES, *args], env=env, capture_output=True, text=True, timeout=timeout)


def psql(service_file: Path, conninfo: str, query: str) -> tuple[list[str], dict[str, str], str]:
    """Run the server's own psql on `conninfo` with only PGSERVICEFILE set: (its argv, its environment, its output)."""
    argv = [str(bin_dir() / "psql"), "-XwAt", "-c", query, conninfo]  # -w: never ask for a password
    env = {"PATH": "/usr/bin:/bin", "HOME": str(service_file.parent), "PGSERVICEFILE": str(service_file)}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 0, done.stderr
    return argv, env, done.stdout.strip()
