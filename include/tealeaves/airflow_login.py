"""The Airflow UI's one login, `admin`, with a password generated here and kept only in a 0600 file.

Airflow's simple auth manager would otherwise generate the password itself and print it into the API server's
log; tealeaves writes the file first, so Airflow finds the user there and prints nothing. The manager reads the
file at every login, so a new password works at once, without restarting Airflow.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

from tealeaves.config import Settings

ADMIN = "admin"
ADMIN_ROLE = "admin"


def users_setting() -> str:
    """`[core] simple_auth_manager_users`: who may log in, with which role."""
    return f"{ADMIN}:{ADMIN_ROLE}"


def ensure_admin_password(settings: Settings) -> str | None:
    """The admin's password if this call made it (the first start), else None: it is shown only once."""
    path = settings.airflow_passwords_file
    if path.exists():
        _private(path)
        if ADMIN in _read(path):
            return None
    return new_admin_password(settings)


def new_admin_password(settings: Settings) -> str:
    """A fresh admin password, replacing the old one in the file (which then stops working at the next login)."""
    path = settings.airflow_passwords_file
    password = secrets.token_urlsafe(18)
    passwords = _read(path) if path.exists() else {}
    passwords[ADMIN] = password
    _write_private(path, json.dumps(passwords) + "\n")
    return password


def login_notice(settings: Settings, password: str) -> str:
    """What a person is told, on their terminal only, the one time a password is made."""
    return (
        f"Airflow login: {ADMIN} / {password}\n"
        f"  shown this once; kept only in {settings.airflow_passwords_file} (mode 0600)."
        " `tealeaves airflow password` makes a new one."
    )


def _read(path: Path) -> dict[str, str]:
    text = path.read_text().strip() or "{}"
    try:
        passwords = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"{path} is not JSON: remove it and a new admin password is made") from None
    if not isinstance(passwords, dict):
        raise ValueError(f"{path} must hold a JSON object of user to password: remove it and a new one is made")
    return passwords


def _write_private(path: Path, text: str) -> None:
    """Write through a new 0600 file renamed into place: the secret is never readable by others, even briefly."""
    _private_home(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _private_home(folder: Path) -> None:
    """tealeaves' home holds its secrets (this file, the PostgreSQL and JWT secrets): no one else lists or writes it.

    Made 0700. An existing home only loses others' read and write bits: when tealeaves runs as root, the embedded
    server runs as a system user that must still traverse it (tealeaves/db/embedded.py), and traversing alone
    reveals nothing, since every secret in it is 0600.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o066:
        folder.chmod(mode & ~0o066)


def _private(path: Path) -> None:
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)
