"""What tealeaves needs on any PostgreSQL server, embedded or external: its databases."""

from __future__ import annotations

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
        existing = {row[0] for row in conn.execute("select datname from pg_database")}
        for name in wanted:
            if name not in existing:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        if settings.airflow_metadata.database != settings.warehouse.database:  # readers do connect to the warehouse
            close_to_public(conn, settings.airflow_metadata.database)
        if settings.embedded:  # tealeaves' own server; on another, these are the DBA's (docs/security.md)
            for database in MAINTENANCE_DATABASES:
                close_to_public(conn, database)


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
)


def reset_warehouse(url: str) -> list[str]:
    """Drop tealeaves' schemas in one transaction (`tealeaves db reset`); returns those that existed."""
    with psycopg.connect(url, connect_timeout=10) as conn, conn.transaction():
        existing = {row[0] for row in conn.execute("select nspname from pg_namespace")}
        dropped = [name for name in WAREHOUSE_SCHEMAS if name in existing]
        for name in dropped:
            conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(name)))
    return dropped
