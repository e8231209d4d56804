"""tealeaves-dbt closes CPython's race between threads building ASTs (python/cpython#106905), which dbt's threads
reach through Jinja's `ast.literal_eval` of every string literal, and once failed a build in CI."""

from __future__ import annotations

import json
import subprocess
import sys

from tealeaves.dbt_cli import RACY_AST

# Two threads at different stack depths read the same literal over and over, as dbt's threads lex templates. A
# collection at every allocation runs a Python callback inside each parse, and a switch interval of a microsecond
# lets the other thread in there, which is what the race needs; on a Python with it, many of the 2 × 200 parses fail.
CONTENDED_PARSES = """
import ast, gc, json, sys, threading
from tealeaves.dbt_cli import serialise_ast_construction
if sys.argv[1] == "serialised":
    serialise_ast_construction()
sys.setswitchinterval(1e-6)
gc.callbacks.append(lambda phase, info: [phase, info])
gc.set_threshold(1, 1, 1)
literal = repr([(i, f"a{i}", {"k": [i, None]}) for i in range(100)])
failures = []
def parse_at_depth(depth):
    if depth:
        return parse_at_depth(depth - 1)
    for _ in range(200):
        try:
            ast.literal_eval(literal)
        except SystemError:
            failures.append(1)
threads = [threading.Thread(target=parse_at_depth, args=(depth,)) for depth in (5, 40)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"failures": len(failures)}))
"""


def failed_parses(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", CONTENDED_PARSES, mode], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)["failures"]


def test_threads_parsing_literals_at_once_never_fail_once_ast_construction_is_serialised():
    if RACY_AST:  # the harness reaches the race here: without the lock, parses fail
        assert failed_parses("bare") > 0
    assert failed_parses("serialised") == 0
