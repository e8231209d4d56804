"""psql, pg_dump or any libpq client connected with no password on its command line.

`psql "$(tealeaves db url)"` puts the password in psql's argv, which any user of the machine reads in `ps`. libpq
can take every connection parameter from a section of a service file instead (PGSERVICEFILE, `service=NAME`),
and the password from a password file named there (`passfile`), which it ignores unless no one else may read it.
tealeaves writes both in `<home>/libpq/`, 0600 from the first byte:

    pg_service.conf     [tealeaves] for tealeaves' own login, [tealeaves-NAME] for reader NAME (`db reader --service`)
    <service>.pgpass    that service's one line, host:port:*:user:password

so `PGSERVICEFILE=<home>/libpq/pg_service.conf psql service=tealeaves` connects with nothing secret in argv or in the
environment. Each service has a password file of its own, rewritten whole, so no line of another is ever parsed.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL

from tealeaves.secret_files import write_secret

OWN_SERVICE = "tealeaves"
SERVICE_FILE = "pg_service.conf"


class ServiceFileError(ValueError):
    """A connection parameter the service or password file cannot hold; the message says which."""


def reader_service(login: str) -> str:
    """A reader's service name: login names have no hyphen (roles.check_login_name), so it meets no other."""
    return f"{OWN_SERVICE}-{login}"


def write_service(folder: Path, service: str, url: URL) -> Path:
    """Put `url` in the service file of `folder` as section `service` (replacing one of that name; other sections
    are kept as they are) and its password in `<service>.pgpass`; returns the service file."""
    section, pgpass = render_service(folder, service, url)
    passfile = _passfile(folder, service)
    if pgpass is not None:
        write_secret(passfile, pgpass)
    else:
        passfile.unlink(missing_ok=True)
    path = folder / SERVICE_FILE
    kept = _other_sections(path.read_text(encoding="utf-8"), service) if path.exists() else []
    while kept and not kept[-1].strip():
        kept.pop()
    write_secret(path, "\n".join([*kept, "", section] if kept else [section]) + "\n")
    return path


def render_service(folder: Path, service: str, url: URL) -> tuple[str, str | None]:
    """The service file's section for `url` and its password file's text (None without a password).

    Raises ServiceFileError for a value the files cannot hold, before anything is written.
    """
    has_password = url.password is not None
    parameters = {
        "host": url.host,
        "port": str(url.port) if url.port else None,
        "dbname": url.database,
        "user": url.username,
        "passfile": str(_passfile(folder, service)) if has_password else None,
        **{key: value if isinstance(value, str) else value[-1] for key, value in url.query.items()},
    }
    lines = [f"[{service}]"] + [
        f"{key}={_service_value(key, value)}" for key, value in parameters.items() if value is not None
    ]
    return "\n".join(lines), pgpass_line(url) if has_password else None


def pgpass_line(url: URL) -> str:
    """`host:port:*:user:password` with `\\` and `:` escaped by a backslash, as libpq reads it.

    Any database (`*`): a login has one password on the whole server, and `service=tealeaves dbname=airflow` is then
    a way to look at Airflow's. A missing host or port is `*` too (the service file names the one server).
    """
    fields = [url.host or "*", str(url.port) if url.port else "*", "*", url.username or "*"]
    escaped = [_pgpass_field(field) if field != "*" else field for field in fields]
    return ":".join([*escaped, _pgpass_field(url.password or "")]) + "\n"


def _passfile(folder: Path, service: str) -> Path:
    return folder / f"{service}.pgpass"


def _pgpass_field(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ServiceFileError("a password file holds one line per login: no name or password in it may break a line")
    return value.replace("\\", "\\\\").replace(":", "\\:")


def _service_value(key: str, value: str) -> str:
    """libpq reads `key=value` to the end of the line, trailing blanks dropped; nothing is quoted or escaped."""
    if "\n" in value or "\r" in value or value != value.rstrip():
        raise ServiceFileError(f"{key} {value!r}: a service file cannot hold a line break or trailing blanks")
    return value


def _other_sections(text: str, service: str) -> list[str]:
    """The lines of `text` outside section `service` (comments and other services a user added stay)."""
    kept, inside = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            inside = stripped == f"[{service}]"
        if not inside:
            kept.append(line)
    return kept
