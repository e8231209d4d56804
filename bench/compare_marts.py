"""Refactor check: the same exports built by two dbt projects give the same tables, row for row.

Not a test. Loads a folder of exports once into a database on the warehouse's server, copies it (one database
per project, `compare_marts_a` and `compare_marts_b`, never the warehouse itself), runs the DAG's steps from
the first build to the predicted marts in each with the given project folder (`dbt build` of every model before
the LTV fit, the fit, `dbt build` of the models after it; unit tests left out), then prints every table and
view they write with its row count and a checksum of its rows (md5 of the rows' text, sorted; the columns that
say when a side ran, RUN_COLUMNS, left out), and which differ. Models only one side has are listed apart (a new
intermediate model is expected; a mart that vanished is not, and fails the run as a difference does), then each
side's seconds per step.

    export TEALEAVES_HOME=... TEALEAVES_PG_PORT=...        # whichever warehouse server to use
    tealeaves generate --out /tmp/exports --customers 2000 --months 24
    git worktree add --detach /tmp/before main            # the project as it was
    .venv/bin/python bench/compare_marts.py /tmp/exports /tmp/before/dbt_project dbt_project --out checksums.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from tealeaves.airflow_env import airflow_environ
from tealeaves.config import Settings, get_settings
from tealeaves.db.setup import scratch_database
from tealeaves.dbt_cli import dbt_executable
from tealeaves.load import load_paths
from tealeaves.ltv.store import predict_ltv

LOADED = "compare_marts_loaded"
SCHEMAS = ("intermediate", "marts_build", "ltv")  # what the builds and the fit write; staging are views over raw
# when each incremental model last ran, which transaction each data test passed after: differs by design
BOOKKEEPING = {"intermediate.incremental_state", "intermediate.tested_rows"}
# The DAG's two builds, before and after the LTV fit, without unit tests (as bench/scale.py).
BUILD = ["build", "--exclude", "tag:predicted_ltv+", "resource_type:unit_test"]
BUILD_PREDICTED = ["build", "--select", "tag:predicted_ltv+", "--exclude", "resource_type:unit_test"]
# When each side ran, not what it computed: the fit's clock and the incremental models' bookkeeping.
RUN_COLUMNS = {"fitted_at", "predicted_at", "run_id", "loaded_at", "updated_at", "recomputed_at"}


def build(url: str, project: Path, scratch: Path) -> dict[str, float]:
    """The DAG's steps from the first build to the predicted marts: dbt build, the LTV fit, dbt build; returns
    each step's wall seconds (a refactor for speed shows its gain on the same data, beside the checksums)."""
    env = {**os.environ, **airflow_environ(Settings(database_url=url))}
    env.update(DBT_TARGET_PATH=str(scratch / "target"), DBT_LOG_PATH=str(scratch / "logs"))
    seconds: dict[str, float] = {}
    for name, step in (("build_marts", BUILD), ("predict_ltv", None), ("build_predicted_marts", BUILD_PREDICTED)):
        started = time.perf_counter()
        if step is None:
            predict_ltv(url, "compare_marts")
        else:
            command = [dbt_executable(), *step, "--project-dir", str(project), "--profiles-dir", str(project)]
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                failed = [line for line in result.stdout.splitlines() if "ERROR" in line or "FAIL" in line]
                raise SystemExit(f"dbt build failed in {project}:\n" + "\n".join(failed[-20:]))
        seconds[name] = time.perf_counter() - started
    return seconds


def checksums(url: str) -> dict[str, tuple[int, str]]:
    """Every relation of SCHEMAS: (rows, md5 of its rows' text in sorted order, the RUN_COLUMNS left out)."""
    found: dict[str, tuple[int, str]] = {}
    with psycopg.connect(url) as conn:
        relations = conn.execute(
            "select table_schema, table_name from information_schema.tables where table_schema = any(%s)",
            [list(SCHEMAS)],
        ).fetchall()
        for schema, name in relations:
            if f"{schema}.{name}" in BOOKKEEPING:
                continue
            columns = [
                column
                for (column,) in conn.execute(
                    "select column_name from information_schema.columns where table_schema = %s and table_name = %s"
                    " order by ordinal_position",
                    [schema, name],
                )
                if column not in RUN_COLUMNS
            ]
            row = sql.SQL("row({})").format(sql.SQL(", ").join(sql.Identifier("t", c) for c in columns))
            rows, digest = conn.execute(
                sql.SQL(
                    "select count(*), md5(coalesce(string_agg({row}::text, E'\\n' order by {row}::text), '')) from {} t"
                ).format(sql.Identifier(schema, name), row=row)
            ).fetchone()
            found[f"{schema}.{name}"] = (rows, digest)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("exports", type=Path)
    parser.add_argument("before", type=Path, help="dbt project folder as it was")
    parser.add_argument("after", type=Path, help="dbt project folder as it is")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    settings = get_settings()
    loaded = scratch_database(settings, LOADED)
    sources = [folder for folder in sorted(args.exports.iterdir()) if folder.is_dir()]
    load_paths(loaded, sources)
    sides, seconds = {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        for side, project in (("a", args.before), ("b", args.after)):
            url = scratch_database(settings, f"compare_marts_{side}", template=LOADED)
            seconds[side] = build(url, project.resolve(), Path(scratch) / side)
            sides[side] = checksums(url)
    before, after = sides["a"], sides["b"]
    table = Table(title="Relations built from the same exports: before and after")
    for column in ("relation", "rows before", "rows after", "same"):
        table.add_column(column, no_wrap=column == "relation")
    differ = 0
    for name in sorted(before.keys() | after.keys()):
        a, b = before.get(name), after.get(name)
        same = "only after" if a is None else "only before" if b is None else "yes" if a == b else "NO"
        differ += same == "NO" or (same == "only before" and name.startswith("marts"))
        table.add_row(name, f"{a[0]:,}" if a else "", f"{b[0]:,}" if b else "", same)
    Console().print(table)
    timing = Table(title="Seconds per step, the two sides one after the other (wall clock: compare on a quiet box)")
    for column in ("step", "before", "after", "after ÷ before"):
        timing.add_column(column, justify="left" if column == "step" else "right")
    for step in seconds["a"]:
        a, b = seconds["a"][step], seconds["b"][step]
        timing.add_row(step, f"{a:.1f}", f"{b:.1f}", f"{b / a:.2f}")
    Console().print(timing)
    if args.out:
        result = {"before": before, "after": after, "seconds": seconds}
        args.out.write_text(json.dumps(result, indent=1, sort_keys=True))
    raise SystemExit(1 if differ else 0)


if __name__ == "__main__":
    main()
