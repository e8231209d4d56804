"""Secrets tealeaves generates (the embedded superuser's password, Airflow's JWT key, the Airflow login) live in
files of the home folder that no one else can read, written so that they are never readable by others, even
for a moment, and never half-written."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


def made_secret(path: Path, nbytes: int) -> str:
    """The secret in `path`, made on first use; two processes making it at once both get the one that won."""
    if not path.exists():
        temporary = _private_temporary(path, secrets.token_urlsafe(nbytes))
        try:
            os.link(temporary, path)  # fails if another process made it first: keep theirs
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip()


def write_secret(path: Path, text: str) -> None:
    """Replace `path` with `text` through a new 0600 file renamed into place."""
    temporary = _private_temporary(path, text)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def make_private(path: Path) -> None:
    """A secret file someone loosened goes back to 0600."""
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)


def _private_temporary(path: Path, text: str) -> Path:
    _private_home(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _private_home(folder: Path) -> None:
    """tealeaves' home holds its secrets: no one else lists or writes it.

    Made 0700. An existing home only loses others' read and write bits: when tealeaves runs as root, the embedded
    server runs as a system user that must still traverse it (tealeaves/db/embedded.py), and traversing alone
    reveals nothing, since every secret in it is 0600.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o066:
        folder.chmod(mode & ~0o066)
