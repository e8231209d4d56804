"""tealeaves-dbt survives CPython's race between threads building ASTs (python/cpython#106905), which dbt's threads
reach through `ast.literal_eval` and which once failed a build in CI."""

from __future__ import annotations

import json
import subprocess
import sys

from tealeaves.dbt_cli import RACY_AST

ROUNDS = 5

# The race, made to happen every round: a collection at every allocation runs a callback inside thread A's parse;
# its tenth (A is building the tree by then, not still reading the source) waits there while thread B, forty
# frames deeper, parses a literal of its own. A failure is the SystemError, read from the exception's type.
PARSE_INSIDE_A_PARSE = """
import ast, gc, json, sys, threading
from tealeaves.dbt_cli import retry_ast_race
if sys.argv[1] == "retried":
    retry_ast_race()
literal = repr([(i, f"a{i}", {"k": [i, None]}) for i in range(50)])
failures = []
for _ in range(int(sys.argv[2])):
    inside_a, b_parsed = threading.Event(), threading.Event()
    collections_left = [10]
    def b_parses_inside_a_parse(phase, info):
        if phase == "start" and threading.current_thread() is a and collections_left[0] > 0:
            collections_left[0] -= 1
            if collections_left[0] == 0:
                inside_a.set()
                b_parsed.wait(5)
    def parse_in_a():
        gc.callbacks.append(b_parses_inside_a_parse)
        thresholds = gc.get_threshold()
        gc.set_threshold(1)
        try:
            ast.literal_eval(literal)
        except SystemError:
            failures.append(1)
        finally:
            gc.set_threshold(*thresholds)
            gc.callbacks.remove(b_parses_inside_a_parse)
    def parse_in_b(depth):
        if depth:
            return parse_in_b(depth - 1)
        inside_a.wait(5)
        ast.literal_eval("[1, 'b']")
        b_parsed.set()
    a = threading.Thread(target=parse_in_a)
    b = threading.Thread(target=parse_in_b, args=(40,))
    b.start()
    a.start()
    a.join()
    b.join()
print(json.dumps({"failures": len(failures)}))
"""


def failed_parses(mode: str) -> int:
    command = [sys.executable, "-c", PARSE_INSIDE_A_PARSE, mode, str(ROUNDS)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)["failures"]


def test_a_parse_another_thread_parsed_inside_is_parsed_again_not_failed():
    if RACY_AST:  # the harness reaches the race on this Python: without the retry, A's parse fails every round
        assert failed_parses("bare") == ROUNDS
    assert failed_parses("retried") == 0
