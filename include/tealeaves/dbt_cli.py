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


def reuse_connections() -> None:
    """Keep each dbt thread's connection open from one node to the next instead of closing it after every node.

    dbt-core's BaseConnectionManager.release closes the connection, so each of a build's nodes (about 300 in the
    daily build) had a PostgreSQL backend of its own started, authenticated and its catalog caches filled: 7.5 ms
    of wall time and 8 ms of CPU on both ends per connection on this project's 2-core machine, before its first
    query. dbt-snowflake keeps them (its reuse_connections); dbt-labs/dbt-core#7587 proposed the same for every
    adapter and was closed. Here release rolls back whatever the node left uncommitted, as closing did, so its locks
    and `set local` settings end with it; a connection that cannot roll back is closed, as dbt closes every one.
    """
    from dbt.adapters.base.connections import BaseConnectionManager

    if getattr(BaseConnectionManager.release, "keeps_the_connection", False):
        return
    close = BaseConnectionManager.release

    def release(self) -> None:
        with self.lock:
            conn = self.get_if_exists()
        if conn is None or conn.state != "open":
            return close(self)
        try:
            conn.handle.rollback()
        except Exception:  # a connection that broke: closed, the next node opens another
            return close(self)
        conn.transaction_open = False

    release.keeps_the_connection = True
    BaseConnectionManager.release = release


def dbt_executable() -> str:
    """This environment's `tealeaves-dbt`, the one way tealeaves starts dbt in a process of its own."""
    return str(Path(sys.executable).parent / "tealeaves-dbt")


def main() -> None:
    """dbt's command line; dbt is imported only after `retry_ast_race`, so that every part of it sees the retry."""
    retry_ast_race()
    reuse_connections()
    from dbt.cli.main import cli

    sys.exit(cli())
