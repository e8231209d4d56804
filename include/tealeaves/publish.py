"""Publish: make the audited build the one BI reads, in one transaction (the P of write-audit-publish).

dbt builds marts into `marts_build`; after the quality gate passes, the schemas are swapped by renaming,
so a reader sees either the whole previous set or the whole new one, never a mix. The previous set is kept
as `marts_previous` until the next build starts, to compare or roll back: that build takes its incremental
marts on as its own (dbt_project/macros/reuse_retired_marts.sql), so a mart need not be rebuilt whole daily.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from tealeaves.db.roles import ensure_reader_role, grant_reader, revoke_reader

BUILD, PUBLISHED, PREVIOUS = "marts_build", "marts", "marts_previous"
QUALITY = "quality"


class PublishError(RuntimeError):
    pass


@dataclass(frozen=True)
class Published:
    tables: dict[str, int]  # table name -> row count now visible in `marts`


def _schema_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select 1 from pg_namespace where nspname = %s", [name]).fetchone() is not None


def publish_marts(dsn: str, build: str = BUILD, published: str = PUBLISHED, previous: str = PREVIOUS) -> Published:
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('tealeaves.publish'))")
        if not _schema_exists(conn, build):
            raise PublishError(f"nothing to publish: schema {build!r} does not exist (did the dbt build run?)")
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(previous)))
        if _schema_exists(conn, published):
            conn.execute(
                sql.SQL("alter schema {} rename to {}").format(sql.Identifier(published), sql.Identifier(previous))
            )
            revoke_reader(conn, previous)  # kept for the data team to compare or roll back, not for dashboards
        conn.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(build), sql.Identifier(published)))
        _grant_readers(conn, published)
        tables = [
            row[0]
            for row in conn.execute(
                "select table_name from information_schema.tables where table_schema = %s order by 1", [published]
            )
        ]
        counts = {
            t: conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(published, t))).fetchone()[0]
            for t in tables
        }
    return Published(counts)


def _grant_readers(conn: psycopg.Connection, schema: str) -> None:
    """A renamed schema keeps its own grants, so the new one must be granted to BI readers afresh."""
    if ensure_reader_role(conn):
        grant_reader(conn, schema)
        if _schema_exists(conn, QUALITY):
            grant_reader(conn, QUALITY)
