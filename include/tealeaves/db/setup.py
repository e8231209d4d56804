"""What tealeaves needs on any PostgreSQL server, embedded or external: its databases and schemas."""

from __future__ import annotations

import psycopg
from psycopg import sql

from tealeaves.config import Settings


def connect(settings: Settings, autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(settings.url(), autocommit=autocommit)


def ensure_databases(settings: Settings) -> None:
    """Create the warehouse and Airflow metadata databases when missing (a no-op when present)."""
    maintenance = settings.url(settings.warehouse.set(database="postgres"))
    wanted = [settings.warehouse.database, settings.airflow_metadata.database]
    with psycopg.connect(maintenance, autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("select datname from pg_database")}
        for name in wanted:
            if name not in existing:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
