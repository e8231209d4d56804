"""Secrets tealeaves generates (the embedded superuser's password, Airflow's JWT key, the Airflow login, libpq's
password files) live in files of the home folder that no one else can read, written so that they are never
readable by others, even for a moment, and never half-written."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from tealeaves.state import private_folder


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
    private_folder(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary
