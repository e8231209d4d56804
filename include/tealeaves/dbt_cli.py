"""dbt's command line as tealeaves runs it (`tealeaves-dbt`): dbt's own `cli`, with one CPython race made harmless
and each thread's connection kept from node to node (reuse_connections says why).

CPython 3.11 before 3.11.8 keeps the AST constructor's recursion count in the interpreter, shared by every thread
(python/cpython#106905, fixed by #113035), and collects garbage inside the C code that builds a tree. dbt compiles on
several threads and builds ASTs there: its native rendering (configs, vars, unit-test rows) and Jinja's float
literals go through `ast.literal_eval`, and a traceback's formatting through `ast.parse`. When a collection inside one
thread's parse runs Python code and another thread parses meanwhile, the second resets the shared count, and the
first fails with a SystemError ("AST constructor recursion depth mismatch") once its tree is built; dbt reports it as
a compilation error of a model that has none. A test build failed so once in CI. (3.12 before 3.12.2 shares the
count too, but collects only between bytecodes, so nothing else runs inside a parse.)

The count is reset at the start of every parse and the trees built are sound, so a parse that failed so is simply
parsed again. A lock around parsing would prevent the race instead, but the thread holding it runs whatever a
collection runs (finalizers that log, say) while another thread may hold what those need and wait for the lock.
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

RACY_AST = sys.version_info < (3, 11, 8)  # pyproject requires 3.11 or newer
# A parse fails so only when another parse, on any thread, ran inside it; twenty in a row is not that but an error.
_PARSE_ATTEMPTS = 20


def retry_ast_race() -> None:
    """Make `ast.parse`, which `ast.literal_eval` calls, parse again after the race's SystemError, where CPython has it.

    Called before dbt or Jinja are imported: a module that imports `parse` by name keeps the function it found.
    """
    if not RACY_AST or getattr(ast.parse, "retries_the_race", False):
        return
    racy = ast.parse

    @functools.wraps(racy)
    def parse(*args, **kwargs):
        for attempt in range(1, _PARSE_ATTEMPTS + 1):
            try:
                return racy(*args, **kwargs)
            except SystemError:
                if attempt == _PARSE_ATTEMPTS:
                    raise

    parse.retries_the_race = True
    ast.parse = parse


# dbt names a node's connection after the node's unique id. Its other connections (master for the hooks and the
# cache, list_ and create_ for schemas, a source's freshness, a function) are closed as dbt closes them.
_NODE_KINDS = {"model", "test", "seed", "snapshot", "unit_test"}


def reuse_connections() -> None:
    """Keep each dbt thread's connection open from one node to the next instead of closing it after every node.

    dbt-core's BaseConnectionManager.release closes the connection, so each of a build's nodes (about 300 in the
    daily build) had a PostgreSQL backend of its own started, authenticated and its catalog caches filled: 7.5 ms
    of wall time and 8 ms of CPU on both ends per connection on this project's 2-core machine, before its first
    query. dbt-snowflake keeps them (its reuse_connections); dbt-labs/dbt-core#7587 proposed the same for every
    adapter and was closed. What closing ended, `_as_new` ends: the node's transaction (its locks and `set local`
    settings: the project's macros take no session-level lock or setting) and its temporary tables (dbt's
    incremental materialization leaves its `__dbt_tmp` table behind). A connection is closed as before when it
    is dbt's own (master waits idle from the first hooks to the last), sets a role (dbt-postgres sets it in a
    transaction it never commits) or commits by itself (a profile's autocommit), or cannot be cleaned. A kept
    connection the server drops between two nodes fails the next one, as a dropped connection fails a node anyway.
    """
    from dbt.adapters.base.connections import BaseConnectionManager

    if getattr(BaseConnectionManager.release, "keeps_the_connection", False):
        return
    close = BaseConnectionManager.release

    def release(self) -> None:
        with self.lock:
            conn = self.get_if_exists()
        kept = conn is not None and conn.state == "open" and (conn.name or "").split(".", 1)[0] in _NODE_KINDS
        if not kept or getattr(conn.credentials, "role", None) or conn.handle.autocommit:
            return close(self)
        try:
            _as_new(conn.handle)
        except Exception:  # a connection that broke, or would not clean: closed, the next node opens another
            return close(self)
        conn.transaction_open = False

    release.keeps_the_connection = True
    BaseConnectionManager.release = release


def _as_new(handle) -> None:
    """Leave a psycopg2 connection (autocommit off) with no transaction and no temporary table, and psycopg2 ready:
    its next statement then opens a transaction, as dbt-postgres expects of a new connection (it sends no BEGIN).

    dbt commits by sending COMMIT as SQL, after which psycopg2 still counts a transaction open: a plain rollback
    would send a ROLLBACK the server warns about ("there is no transaction in progress").
    """
    from psycopg2 import extensions

    if handle.info.transaction_status != extensions.TRANSACTION_STATUS_IDLE:
        handle.rollback()  # the node's transaction, or a failed one
    with handle.cursor() as cursor:
        if handle.status != extensions.STATUS_READY:  # committed by SQL: psycopg2 sends no BEGIN of its own
            cursor.execute("begin")
        cursor.execute("discard temp")
    handle.commit()


def dbt_executable() -> str:
    """This environment's `tealeaves-dbt`, the one way tealeaves starts dbt in a process of its own."""
    return str(Path(sys.executable).parent / "tealeaves-dbt")


def main() -> None:
    """dbt's command line; dbt is imported only after `retry_ast_race`, so that every part of it sees the retry."""
    retry_ast_race()
    reuse_connections()
    from dbt.cli.main import cli

    sys.exit(cli())
