"""Who may read what: BI tools log in as members of `bi_reader`, which sees `marts` and `quality` only.

The group role holds the grants; each BI tool gets a login of its own in that group, so one can be revoked
without touching the others. `raw`, the layers dbt builds from it and the unaudited build schema are never
granted: an analyst cannot read numbers that have not passed the gate.
"""

from __future__ import annotations

import secrets

import psycopg
from psycopg import sql

READER_ROLE = "bi_reader"
READABLE_SCHEMAS = ("marts", "quality")


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


def create_reader_login(dsn: str, name: str, password: str | None = None) -> str:
    """A login role in `bi_reader` for one BI tool; an existing login gets a new password. Returns the password."""
    if not name.replace("_", "").isalnum() or not name[0].isalpha():
        raise RoleError(f"login name {name!r}: use letters, digits and underscores, starting with a letter")
    if name == READER_ROLE:
        raise RoleError(f"{READER_ROLE!r} is the group role; give the BI tool's login another name, e.g. metabase")
    password = password or secrets.token_urlsafe(18)
    with psycopg.connect(dsn, autocommit=True) as conn:
        if not ensure_reader_role(conn):
            raise RoleError("this database user may not create roles (needs CREATEROLE); ask the server's admin")
        login, database = sql.Identifier(name), sql.Identifier(conn.info.dbname)
        with conn.transaction():
            verb = "alter" if _role_exists(conn, name) else "create"
            conn.execute(sql.SQL(verb + " role {} login password {}").format(login, sql.Literal(password)))
            conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(READER_ROLE), login))
            conn.execute(sql.SQL("grant connect on database {} to {}").format(database, sql.Identifier(READER_ROLE)))
            for schema in READABLE_SCHEMAS:
                if _schema_exists(conn, schema):
                    grant_reader(conn, schema)
    return password


def _role_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select 1 from pg_roles where rolname = %s", [name]).fetchone() is not None


def _schema_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select 1 from pg_namespace where nspname = %s", [name]).fetchone() is not None
