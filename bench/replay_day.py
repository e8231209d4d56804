"""Replay one next day on copies of a bench's day one: the daily run's cost, change against change, on one warehouse.

A daily build's seconds in two `bench/scale.py --next-day` runs differ by a tenth with the machine alone, more than
many changes are worth. This replays the same day on copies of the same warehouse instead, so runs can alternate
(a change in the code, a state of the warehouse) and be compared. `bench/scale.py --next-day --keep-day-one` keeps
day one's warehouse, as a daily run starts from it (after its second build and publish), as the database
DAY_ONE_DB, and `--keep --work DIR` keeps day two's exports in DIR/scale-<customers>/day2.

Each replay copies that database to REPLAY_DB, refreshes its statistics (a copy starts without the server's
counters, and the build's analyze hooks would otherwise analyze every table), loads day two, runs the raw gate and
the daily `dbt build`, each as the bench runs it, and prints their seconds and dbt's node seconds by kind of node
(a model's compile time is the queries that decide what an incremental model recomputes). `--vacuum-raw` first
vacuums the copy's raw tables, as autovacuum did after every load before raw tables stopped being vacuumed for
their inserts (README, "Raw tables kept in load order").

    export TEALEAVES_HOME=... TEALEAVES_PG_PORT=...   # the server the bench ran on
    .venv/bin/python bench/scale.py --customers 100000 --start 2024-12-01 --end 2026-11-16 --next-day \\
        --keep --keep-day-one --work /tmp/bench
    for i in 1 2; do
        .venv/bin/python bench/replay_day.py /tmp/bench/scale-100000/day2 --vacuum-raw
        .venv/bin/python bench/replay_day.py /tmp/bench/scale-100000/day2
    done
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table
from scale import BIN, DAY_ONE_DB, DBT_STEPS, NEXT_DAY, copy_database, run_measured, step_environ

from tealeaves.config import get_settings
from tealeaves.db.setup import drop_database

REPLAY_DB = "tealeaves_scale_replay"
SCALE = Path(__file__).with_name("scale.py")


def step(name: str, command: list[str], url: str, folder: Path) -> float:
    """Run one of the bench's steps on `url`; its wall seconds."""
    measured = run_measured(command, step_environ(url, folder / "dbt"), folder / f"{name}.log", None)
    if measured.returncode != 0:
        raise SystemExit(f"{name} failed; see {folder / f'{name}.log'}")
    return measured.seconds


def node_seconds(run_results: Path) -> dict[str, dict[str, float]]:
    """dbt's node seconds by kind of node (a model by its materialization), with their compile seconds."""
    manifest = json.loads((run_results.parent / "manifest.json").read_text())
    kinds: dict[str, dict[str, float]] = defaultdict(lambda: {"nodes": 0, "seconds": 0.0, "compile": 0.0})
    for result in json.loads(run_results.read_text())["results"]:
        node = manifest["nodes"].get(result["unique_id"], {})
        kind = result["unique_id"].split(".")[0]  # exposures are not among the manifest's nodes
        if kind == "model":
            kind = f"model ({node['config']['materialized']})"
        compile_seconds = sum(
            (datetime.fromisoformat(t["completed_at"]) - datetime.fromisoformat(t["started_at"])).total_seconds()
            for t in result["timing"]
            if t["name"] == "compile"
        )
        kinds[kind]["nodes"] += 1
        kinds[kind]["seconds"] += result["execution_time"]
        kinds[kind]["compile"] += compile_seconds
    return dict(kinds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("day_two", type=Path, help="day two's exports (DIR/scale-<customers>/day2 of the bench)")
    parser.add_argument("--vacuum-raw", action="store_true", help="vacuum the copy's raw tables before loading")
    parser.add_argument("--out", type=Path, help="append the replay's figures to this JSON Lines file")
    args = parser.parse_args()
    settings = get_settings()
    started = time.perf_counter()
    copy_database(settings, DAY_ONE_DB, REPLAY_DB)
    url = settings.url(settings.warehouse.set(database=REPLAY_DB))
    copied = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        if args.vacuum_raw:
            for (table,) in conn.execute("select tablename from pg_tables where schemaname = 'raw'").fetchall():
                conn.execute(sql.SQL("vacuum {}").format(sql.Identifier("raw", table)))
        conn.execute("analyze")
    folder = Path(tempfile.mkdtemp(prefix="tealeaves-replay-"))
    seconds = {}
    for name in ("load", "validate_raw"):
        command = [sys.executable, str(SCALE), "--step", name, "--data", str(args.day_two), "--run-id", "replay"]
        command += ["--docs", str(folder / "docs"), "--result", str(folder / f"{name}.json")]
        seconds[name] = step(name, command, url, folder)
    build = f"build_marts{NEXT_DAY}"
    dbt = [str(BIN / "dbt"), *DBT_STEPS[build], "--project-dir", str(settings.dbt_project_dir)]
    seconds[build] = step(build, dbt, url, folder)
    run_results = folder / "dbt" / "target" / "run_results.json"
    elapsed = json.loads(run_results.read_text())["elapsed_time"]
    kinds = node_seconds(run_results)
    drop_database(settings, REPLAY_DB)
    shutil.rmtree(folder, ignore_errors=True)

    table = Table(title=f"day two replayed{' after vacuuming raw' if args.vacuum_raw else ''} (copy {copied:.0f} s)")
    for column in ("part", "nodes", "seconds", "of which compile"):
        table.add_column(column, justify="left" if column == "part" else "right")
    table.add_row("load", "", f"{seconds['load']:.1f}", "")
    table.add_row("raw gate", "", f"{seconds['validate_raw']:.1f}", "")
    table.add_row("dbt build, dbt's elapsed", "", f"{elapsed:.1f}", "")
    for kind, figures in sorted(kinds.items()):
        table.add_row(
            f"  {kind}, node s", str(figures["nodes"]), f"{figures['seconds']:.1f}", f"{figures['compile']:.1f}"
        )
    Console().print(table)
    if args.out:
        record = {"vacuum_raw": args.vacuum_raw, "seconds": seconds, "dbt_elapsed": elapsed, "nodes": kinds}
        with args.out.open("a") as out:
            out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
