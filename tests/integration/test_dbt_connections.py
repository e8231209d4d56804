"""tealeaves.dbt_cli._as_new on a real connection: what a dbt node can leave on its connection is gone, as it was
when dbt closed the connection after every node (reuse_connections keeps it for the thread's next node)."""

from __future__ import annotations

import psycopg
import psycopg2
import pytest
from psycopg2 import extensions

from tealeaves.dbt_cli import _as_new


def _committed_by_sql(cursor) -> None:
    """As dbt commits a model: COMMIT sent as SQL, which psycopg2 does not see."""
    cursor.execute("create temp table model__dbt_tmp (x int)")
    cursor.execute("commit")


def _left_open(cursor) -> None:
    """A node that ended inside a transaction, holding a lock (a data test's select, a model stopped before its
    commit), after an earlier one committed its temporary table."""
    _committed_by_sql(cursor)
    cursor.execute("begin")
    cursor.execute("select pg_advisory_xact_lock(15)")


def _failed(cursor) -> None:
    """A node whose statement failed inside a transaction."""
    _committed_by_sql(cursor)
    cursor.execute("begin")
    with pytest.raises(psycopg2.errors.DivisionByZero):
        cursor.execute("select 1 / 0")


def _nothing(cursor) -> None:
    """A node that ran no statement on its connection."""


@pytest.mark.parametrize("node", [_committed_by_sql, _left_open, _failed, _nothing], ids=lambda f: f.__name__[1:])
def test_a_kept_connection_is_left_as_a_new_one(fresh_database, node):
    handle = psycopg2.connect(fresh_database)
    try:
        with handle.cursor() as cursor:
            node(cursor)

        _as_new(handle)

        state = (handle.status, handle.info.transaction_status, handle.notices)
        assert state == (extensions.STATUS_READY, extensions.TRANSACTION_STATUS_IDLE, []), "no warning, nothing open"
        with psycopg.connect(fresh_database) as other:
            locks = other.execute(
                "select count(*) from pg_locks where pid = %s and locktype = 'advisory'", [handle.get_backend_pid()]
            ).fetchone()[0]
        with handle.cursor() as cursor:
            cursor.execute("select count(*) from pg_class where relnamespace = pg_my_temp_schema()")
            temporary = cursor.fetchone()[0]
        assert (locks, temporary) == (0, 0)
    finally:
        handle.close()
