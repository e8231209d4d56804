"""The Airflow UI's one login, `admin`, with a password generated here and kept only in a 0600 file.

Airflow's simple auth manager would otherwise generate the password itself and print it into the API server's
log; tealeaves writes the file first, so Airflow finds the user there and prints nothing. The manager reads the
file at every login, so a new password works at once, without restarting Airflow.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from tealeaves.config import Settings
from tealeaves.secret_files import make_private, write_secret

ADMIN = "admin"
ADMIN_ROLE = "admin"


def users_setting() -> str:
    """`[core] simple_auth_manager_users`: who may log in, with which role."""
    return f"{ADMIN}:{ADMIN_ROLE}"


def ensure_admin_password(settings: Settings) -> str | None:
    """The admin's password if this call made it (the first start), else None: it is shown only once."""
    path = settings.airflow_passwords_file
    if path.exists():
        make_private(path)
        if ADMIN in _read(path):
            return None
    return new_admin_password(settings)


def new_admin_password(settings: Settings) -> str:
    """A fresh admin password, replacing the old one in the file (which then stops working at the next login)."""
    path = settings.airflow_passwords_file
    password = secrets.token_urlsafe(18)
    passwords = _read(path) if path.exists() else {}
    passwords[ADMIN] = password
    write_secret(path, json.dumps(passwords) + "\n")
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
