"""Write the DDL an earlier tealeaves ran at runtime, verbatim from git: the oracle of test_migrations.py.

    python tests/integration/legacy_ddl/extract.py COMMIT NAME

reads the module-level DDL strings (`LEDGER`, `DDL`) of the modules that created the warehouse's own tables at
COMMIT and writes them, in that order, to NAME.sql beside this file. Run once per frozen form; the files are kept
in git so the tests need no history (a shallow clone has none).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

MODULES = {  # path at the commit → the string constants holding its DDL
    "include/tealeaves/load/ddl.py": ("LEDGER",),
    "include/tealeaves/quality/store.py": ("DDL",),
    "include/tealeaves/alerts/state.py": ("DDL",),
    "include/tealeaves/alerts/published.py": ("DDL",),
    "include/tealeaves/ltv/store.py": ("DDL",),
}


def constants(source: str, names: tuple[str, ...]) -> list[str]:
    """The values of module-level string assignments; an f-string's `{SCHEMA}` is the module's SCHEMA."""
    tree = ast.parse(source)
    strings = {
        node.targets[0].id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
    }
    found = []
    for name in names:
        value = strings[name]
        if isinstance(value, ast.JoinedStr):
            parts = []
            for piece in value.values:
                if isinstance(piece, ast.Constant):
                    parts.append(piece.value)
                else:
                    parts.append(ast.literal_eval(strings[piece.value.id]))  # type: ignore[attr-defined]
            found.append("".join(parts))
        else:
            found.append(ast.literal_eval(value))
    return found


def main(commit: str, name: str) -> None:
    full = subprocess.run(["git", "rev-parse", commit], capture_output=True, text=True, check=True).stdout.strip()
    out = [f"-- The warehouse's own tables as tealeaves {full[:12]} created them at runtime ({Path(__file__).name})."]
    for path, names in MODULES.items():
        shown = subprocess.run(["git", "show", f"{full}:{path}"], capture_output=True, text=True)
        if shown.returncode != 0:
            continue  # the module did not exist yet
        for text in constants(shown.stdout, names):
            out.append(f"-- {path}\n{text.strip()}\n")
    Path(__file__).with_name(f"{name}.sql").write_text("\n".join(out), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
