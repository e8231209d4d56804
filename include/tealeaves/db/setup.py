"""What tealeaves needs on any PostgreSQL server, embedded or external: its databases."""

from __future__ import annotations

import time

import psycopg
from psycopg import sql

from tealeaves.config import Settings


def connect(settings: Settings, autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(settings.url(), autocommit=autocommit, connect_timeout=10)


# What initdb makes beside template0 (which takes no connections): every role may connect to them until revoked.
# tealeaves and Airflow reach them only as the superuser (createdb copies template1 as the superuser).
MAINTENANCE_DATABASES = ("postgres", "template1")


def ensure_databases(settings: Settings) -> None:
    """Create the warehouse and Airflow metadata databases when missing (a no-op when present).

    On an external server the warehouse database usually exists already and the user may not reach the
    `postgres` maintenance database, so that one is used only when the warehouse itself is missing.
    """
    wanted = [settings.warehouse.database, settings.airflow_metadata.database]
    try:
        conn = psycopg.connect(settings.url(), autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        if f'database "{settings.warehouse.database}" does not exist' not in str(exc):
            raise
        conn = psycopg.connect(
            settings.url(settings.warehouse.set(database="postgres")), autocommit=True, connect_timeout=10
        )
    with conn:
        for name in wanted:
            ensure_database(conn, name)
        if settings.airflow_metadata.database != settings.warehouse.database:  # readers do connect to the warehouse
            close_to_public(conn, settings.airflow_metadata.database)
        if settings.embedded:  # tealeaves' own server; on another, these are the DBA's (docs/security.md)
            for database in MAINTENANCE_DATABASES:
                close_to_public(conn, database)


def _admin(settings: Settings) -> psycopg.Connection:
    """The server's `postgres` maintenance database: CREATE and DROP DATABASE cannot run inside the target."""
    admin = settings.url(settings.warehouse.set(database="postgres"))
    return psycopg.connect(admin, autocommit=True, connect_timeout=10)


def scratch_database(settings: Settings, name: str, template: str | None = None, attempts: int = 5) -> str:
    """A new database `name` on the settings' server (a copy of `template`, else empty), dropped first if an
    earlier run left it; returns its URL. For tests, benchmarks and tools, never for the warehouse itself.

    A copy needs `template` to itself: client sessions still on it are ended first (PostgreSQL ends autovacuum's
    itself), and again, up to `attempts` times, if one came back before the copy started."""
    create = sql.SQL("create database {}").format(sql.Identifier(name))
    if template:
        create += sql.SQL(" template {}").format(sql.Identifier(template))
    for attempt in range(1, attempts + 1):
        with _admin(settings) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
            if template:
                conn.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity"
                    " where datname = %s and backend_type = 'client backend' and pid <> pg_backend_pid()",
                    [template],
                )
            try:
                conn.execute(create)
                break
            except psycopg.errors.ObjectInUse:
                if not template or attempt == attempts:
                    raise
        time.sleep(1)
    return settings.url(settings.warehouse.set(database=name))


def drop_database(settings: Settings, name: str) -> None:
    """Drop database `name` from the settings' server, its open sessions ended first; a no-op when missing."""
    with _admin(settings) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def ensure_database(conn: psycopg.Connection, name: str) -> None:
    """Create database `name` through `conn` (autocommit, any database of the server) unless it exists."""
    if not conn.execute("select 1 from pg_database where datname = %s", [name]).fetchone():
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


def close_to_public(conn: psycopg.Connection, database: str) -> None:
    """Revoke the CONNECT that PostgreSQL grants every role on a new database.

    Airflow's metadata holds connections, variables and task logs: only its owner (tealeaves' own user) and
    superusers log in there, never a BI reader. Nor has a reader any business in `postgres` or `template1`: it logs
    in to the warehouse and nowhere else. Run on every start, so a database made before this rule is closed too.
    A user that does not own it gets a warning from the server, not an error, and nothing changes.
    """
    conn.execute(sql.SQL("revoke connect, temporary on database {} from public").format(sql.Identifier(database)))


# Every schema tealeaves writes in the warehouse; `public` and anything else a DBA made are left alone.
WAREHOUSE_SCHEMAS = (
    "raw",
    "staging",
    "intermediate",
    "marts_build",
    "marts",
    "marts_previous",
    "quality",
    "quality_samples",
    "ltv",
    "tealeaves",  # the revision of the tables above (tealeaves.db.migrate): dropped with them, so they are remade
)


def reset_warehouse(url: str) -> list[str]:
    """Drop tealeaves' schemas in one transaction (`tealeaves db reset`); returns those that existed."""
    with psycopg.connect(url, connect_timeout=10) as conn, conn.transaction():
        existing = {row[0] for row in conn.execute("select nspname from pg_namespace")}
        dropped = [name for name in WAREHOUSE_SCHEMAS if name in existing]
        for name in dropped:
            conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(name)))
    return dropped


def rotate_superuser_password(settings: Settings) -> None:
    """Give the embedded server's superuser a new password and keep it in its file, never locked out in between.

    The new password is written beside the file first; the server takes it as a SCRAM verifier (no clear text
    in its log); only then does it replace the file. A failure before the switch changes nothing; libpq's
    own service (`tealeaves db service`), if made, follows.
    """
    import secrets

    from tealeaves.db.roles import scram_verifier
    from tealeaves.db.service import OWN_SERVICE, SERVICE_FILE, write_service
    from tealeaves.secret_files import write_secret

    if settings.database_url:
        raise ValueError("TEALEAVES_DATABASE_URL names the server: its admin rotates that password")
    password = secrets.token_urlsafe(24)
    pending = settings.pg_password_file.with_name(settings.pg_password_file.name + ".new")
    write_secret(pending, password)
    try:
        with connect(settings, autocommit=True) as conn:
            conn.execute(
                sql.SQL("alter role {} password {}").format(
                    sql.Identifier(settings.warehouse.username), sql.Literal(scram_verifier(password))
                )
            )
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    pending.replace(settings.pg_password_file)
    if (settings.libpq_dir / SERVICE_FILE).exists():
        write_service(settings.libpq_dir, OWN_SERVICE, settings.warehouse)
