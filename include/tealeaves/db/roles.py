"""Who may read what: BI tools log in as members of `bi_reader`, which sees `marts` and `quality` only.

The group role holds the grants; each BI tool gets a login of its own in that group, so one can be revoked
without touching the others. `raw`, the layers dbt builds from it, the unaudited build schema and the gate's
row samples (`quality_samples`) are never granted: an analyst cannot read numbers that have not passed the gate.

`tealeaves db reader NAME` only ever creates or changes logins it made itself, marked by a role comment: a
typo or a hostile name must not hand the superuser's (or anyone's) login to a BI tool. Its password reaches
the server as a SCRAM-SHA-256 verifier computed here, so a failed statement logged in full leaks no secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import psycopg
from psycopg import sql

READER_ROLE = "bi_reader"
READABLE_SCHEMAS = ("marts", "quality")
READER_COMMENT = "tealeaves reader login"  # marks the logins `db reader` made, the only ones it may change

# Limits on every reader login, so one dashboard cannot starve the nightly build or fill the disk.
STATEMENT_TIMEOUT = "60s"  # a BI query over the marts takes seconds; a minute means a runaway cross join
IDLE_IN_TRANSACTION_TIMEOUT = "60s"  # an idle open transaction holds locks that block the publish swap
TEMP_FILE_LIMIT = "1GB"  # sorts and hashes that spill more than this are mistakes, not reports
CONNECTION_LIMIT = 10  # a BI tool's pool; more would crowd out Airflow and dbt on a small server

SCRAM_ITERATIONS = 4096  # PostgreSQL's own default (scram_iterations)
# PostgreSQL's NAMEDATALEN - 1: it cuts a longer identifier (a role's, which could then hit another role; an index's)
MAX_NAME_BYTES = 63


class RoleError(RuntimeError):
    pass


def ensure_reader_role(conn: psycopg.Connection) -> bool:
    """Create the group role when missing; returns False when this user may not create roles (left as is)."""
    if _role_exists(conn, READER_ROLE):
        return True
    try:
        with conn.transaction():
            conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(READER_ROLE)))
    except psycopg.errors.InsufficientPrivilege:
        return False
    except psycopg.errors.DuplicateObject:  # created concurrently by another publish
        pass
    return True


def grant_reader(conn: psycopg.Connection, schema: str) -> None:
    """SELECT on every table of `schema` (and on tables created there later by this user)."""
    target, role = sql.Identifier(schema), sql.Identifier(READER_ROLE)
    conn.execute(sql.SQL("grant usage on schema {} to {}").format(target, role))
    conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(target, role))
    conn.execute(sql.SQL("alter default privileges in schema {} grant select on tables to {}").format(target, role))


def revoke_reader(conn: psycopg.Connection, schema: str) -> None:
    if _role_exists(conn, READER_ROLE):
        conn.execute(
            sql.SQL("revoke usage on schema {} from {}").format(sql.Identifier(schema), sql.Identifier(READER_ROLE))
        )


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802, RFC 7677).

    Given as the password, the server stores it as is, so the clear text never crosses the wire or the log.
    """
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def check_login_name(name: str) -> None:
    """Refuse names that are not plain, that PostgreSQL reserves, or that are the group itself."""
    if not name or not name.replace("_", "").isalnum() or not name.isascii() or not name[0].isalpha():
        raise RoleError(f"login name {name!r}: use letters, digits and underscores, starting with a letter")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise RoleError(f"login name {name!r}: at most {MAX_NAME_BYTES} characters")
    if name.lower().startswith("pg_"):
        raise RoleError(f"login name {name!r}: names starting with pg_ are reserved by PostgreSQL")
    if name == READER_ROLE:
        raise RoleError(f"{READER_ROLE!r} is the group role; give the BI tool's login another name, e.g. metabase")


def new_password() -> str:
    """A reader's generated password: URL-safe, so it goes into a URL, a service or a password file unescaped."""
    return secrets.token_urlsafe(18)


def create_reader_login(dsn: str, name: str, password: str | None = None) -> str:
    """A login role in `bi_reader` for one BI tool; a login made by this command gets a new password.

    Any other existing role (the superuser, the connecting user, roles a DBA made) is refused and left as is.
    Returns the password.
    """
    check_login_name(name)
    password = password or new_password()
    with psycopg.connect(dsn, autocommit=True) as conn:
        login, group = sql.Identifier(name), sql.Identifier(READER_ROLE)
        database = sql.Identifier(conn.info.dbname)
        try:
            with conn.transaction():
                conn.execute("select pg_advisory_xact_lock(hashtext('tealeaves.roles'))")
                exists = _role_exists(conn, name)
                if exists and not _is_reader_login(conn, name):
                    raise RoleError(
                        f"role {name!r} exists and was not made by `tealeaves db reader`; it is left as is,"
                        " choose another name for the BI tool's login"
                    )
                if not ensure_reader_role(conn):
                    raise RoleError(
                        "this database user may not create roles (needs CREATEROLE); ask the server's admin"
                    )
                verb = "alter" if exists else "create"
                conn.execute(
                    sql.SQL(
                        verb + " role {} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls"
                        " connection limit {} password {}"
                    ).format(login, sql.Literal(CONNECTION_LIMIT), sql.Literal(scram_verifier(password)))
                )
                conn.execute(sql.SQL("comment on role {} is {}").format(login, sql.Literal(READER_COMMENT)))
                for setting, value in (
                    ("statement_timeout", STATEMENT_TIMEOUT),
                    ("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION_TIMEOUT),
                    ("temp_file_limit", TEMP_FILE_LIMIT),
                ):
                    conn.execute(
                        sql.SQL("alter role {} set {} = {}").format(login, sql.SQL(setting), sql.Literal(value))
                    )
                conn.execute(sql.SQL("grant {} to {}").format(group, login))
                conn.execute(sql.SQL("grant connect on database {} to {}").format(database, group))
                for schema in READABLE_SCHEMAS:
                    if _schema_exists(conn, schema):
                        grant_reader(conn, schema)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise RoleError(
                f"this database user may not set up reader {name!r}: {exc.diag.message_primary};"
                " ask the server's admin (temp_file_limit needs a superuser or GRANT SET ON PARAMETER)"
            ) from None
        except psycopg.errors.ReservedName as exc:
            raise RoleError(f"login name {name!r}: {exc.diag.message_primary}") from None
    return password


def _is_reader_login(conn: psycopg.Connection, name: str) -> bool:
    """True only for a plain login in `bi_reader` that this command marked, and never for the connecting user."""
    if not _role_exists(conn, READER_ROLE):
        return False
    row = conn.execute(
        """
        select shobj_description(r.oid, 'pg_authid') = %s
               and pg_has_role(r.oid, %s::name, 'member')
               and not (r.rolsuper or r.rolcreaterole or r.rolcreatedb or r.rolreplication or r.rolbypassrls)
               and r.rolname not in (current_user, session_user)
        from pg_roles as r where r.rolname = %s
        """,
        [READER_COMMENT, READER_ROLE, name],
    ).fetchone()
    return bool(row and row[0])


def _role_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select 1 from pg_roles where rolname = %s", [name]).fetchone() is not None


def _schema_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select 1 from pg_namespace where nspname = %s", [name]).fetchone() is not None
