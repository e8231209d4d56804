"""dbt's command line as tealeaves runs it (`tealeaves-dbt`): dbt's own `cli`, with one CPython race closed first.

CPython before 3.11.8, and 3.12 before 3.12.2, keeps the AST constructor's recursion count in the interpreter, shared
by every thread (python/cpython#106905, fixed by #113035). dbt compiles models on several threads, and Jinja reads
every string literal of a template with `ast.literal_eval`; when a garbage collection inside one thread's parse runs
Python code, another thread's parse can reset the shared count, and the first fails with a SystemError ("AST
constructor recursion depth mismatch"), reported by dbt as a compilation error of a model that has none. A test
build failed so once in CI. On those versions this builds one AST at a time; dbt's threads still run their queries
at once, and parsing a literal is microseconds.
"""

from __future__ import annotations

import ast
import functools
import sys
import threading
from pathlib import Path

RACY_AST = sys.version_info < (3, 11, 8) or (3, 12) <= sys.version_info < (3, 12, 2)
_AST_LOCK = threading.RLock()  # re-entrant: a collection inside a parse may run code that parses on the same thread


def serialise_ast_construction() -> None:
    """Make `ast.parse`, which `ast.literal_eval` calls, take one process-wide lock, where CPython has the race."""
    if not RACY_AST or getattr(ast.parse, "serialised", False):
        return
    unlocked = ast.parse

    @functools.wraps(unlocked)
    def parse(*args, **kwargs):
        with _AST_LOCK:
            return unlocked(*args, **kwargs)

    parse.serialised = True
    ast.parse = parse


def dbt_executable() -> str:
    """This environment's `tealeaves-dbt`, the one way tealeaves starts dbt in a process of its own."""
    return str(Path(sys.executable).parent / "tealeaves-dbt")


def main() -> None:
    serialise_ast_construction()
    from dbt.cli.main import cli

    sys.exit(cli())
