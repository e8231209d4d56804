"""Replay one next day on copies of a bench's day one: the daily run's cost, change against change, on one warehouse.

A daily build's seconds in two `bench/scale.py --next-day` runs differ by a tenth with the machine alone, more than
many changes are worth. This replays the same day on copies of the same warehouse instead, so runs can alternate
(a change in the code, a state of the warehouse) and be compared. `bench/scale.py --next-day --keep-day-one` keeps
day one's warehouse, as a daily run starts from it (after its second build and publish), as the database
DAY_ONE_DB, and `--work DIR` keeps day two's exports in DIR/scale-<customers>/day2.

Each replay copies that database to REPLAY_DB, refreshes its statistics (a copy starts without the server's
counters, and the build's analyze hooks would otherwise analyze every table), loads day two, runs the raw gate and
the daily `dbt build`, each as the bench runs it, and prints the load's and the gate's own seconds (as the bench's
tables show them), dbt's elapsed time and its node seconds by kind of node (a model's compile time is the queries
that decide what an incremental model recomputes). `--vacuum-raw` first vacuums the copy's raw tables, as
autovacuum did after every load before raw tables stopped being vacuumed for their inserts (README, "Raw tables
kept in load order").

    export TEALEAVES_HOME=... TEALEAVES_PG_PORT=...   # the server the bench ran on
    .venv/bin/python bench/scale.py --customers 100000 --start 2024-12-01 --end 2026-11-16 --next-day \\
        --keep-day-one --work /tmp/bench
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
from scale import (
    BIN,
    DAY_ONE_DB,
    DBT_STEPS,
    NEXT_DAY,
    _embedded,
    copy_database,
    machine_facts,
    run_measured,
    step_environ,
)

from tealeaves.config import Settings, get_settings
from tealeaves.db.setup import drop_database
from tealeaves.orchestrate import start_server

REPLAY_DB = "tealeaves_scale_replay"
SCALE = Path(__file__).with_name("scale.py")


def step(name: str, command: list[str], url: str, folder: Path) -> None:
    """Run one of the bench's steps on `url`, as the bench runs it."""
    measured = run_measured(command, step_environ(url, folder / "dbt"), folder / f"{name}.log", None)
    if measured.returncode != 0:
        raise SystemExit(f"{name} failed; see {folder / f'{name}.log'}")


def node_seconds(run_results: Path) -> dict[str, dict[str, float]]:
    """dbt's node seconds by kind of node (a model by its materialization), with their compile seconds."""
    manifest = json.loads((run_results.parent / "manifest.json").read_text())
    kinds: dict[str, dict[str, float]] = defaultdict(lambda: {"nodes": 0, "seconds": 0.0, "compile": 0.0})
    for result in json.loads(run_results.read_text())["results"]:
        node = manifest["nodes"].get(result["unique_id"], {})
        kind = result["unique_id"].split(".")[0]  # exposures and unit tests are not among the manifest's nodes
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


def replay(settings: Settings, day_two: Path, vacuum_raw: bool, folder: Path) -> dict:
    """One replay on a fresh copy of DAY_ONE_DB; its figures. The copy is dropped afterwards, even after a failure."""
    started = time.perf_counter()
    copy_database(settings, DAY_ONE_DB, REPLAY_DB)
    copied = time.perf_counter() - started
    url = settings.url(settings.warehouse.set(database=REPLAY_DB))
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            if vacuum_raw:
                for (table,) in conn.execute("select tablename from pg_tables where schemaname = 'raw'").fetchall():
                    conn.execute(sql.SQL("vacuum {}").format(sql.Identifier("raw", table)))
            conn.execute("analyze")
        work = {}  # the step's own call, as the bench's tables show it (without the process's start-up)
        for name in ("load", "validate_raw"):
            result = folder / f"{name}.json"
            command = [sys.executable, str(SCALE), "--step", name, "--data", str(day_two), "--run-id", "replay"]
            step(name, [*command, "--docs", str(folder / "docs"), "--result", str(result)], url, folder)
            work[name] = json.loads(result.read_text())
        build = f"build_marts{NEXT_DAY}"
        dbt = [str(BIN / "dbt"), *DBT_STEPS[build], "--project-dir", str(settings.dbt_project_dir)]
        step(build, dbt, url, folder)
    finally:
        drop_database(settings, REPLAY_DB)
    run_results = folder / "dbt" / "target" / "run_results.json"
    return {
        "machine": machine_facts(settings, settings.url()),  # the commit and the date among them
        "vacuum_raw": vacuum_raw,
        "copy_seconds": round(copied, 1),
        "rows_loaded": work["load"]["rows"],
        "load_seconds": work["load"]["work_seconds"],
        "raw_gate_seconds": work["validate_raw"]["work_seconds"],
        "dbt_elapsed": json.loads(run_results.read_text())["elapsed_time"],
        "nodes": node_seconds(run_results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("day_two", type=Path, help="day two's exports (DIR/scale-<customers>/day2 of the bench)")
    parser.add_argument("--vacuum-raw", action="store_true", help="vacuum the copy's raw tables before loading")
    parser.add_argument("--out", type=Path, help="append the replay's figures to this JSON Lines file")
    args = parser.parse_args()
    if not args.day_two.is_dir():  # the loader skips a missing folder: the replay would be of an empty day
        raise SystemExit(f"{args.day_two}: no such folder; give the bench's DIR/scale-<customers>/day2")
    settings = get_settings()
    was_running = settings.embedded and _embedded(settings).status().running
    start_server(settings)
    folder = Path(tempfile.mkdtemp(prefix="tealeaves-replay-"))
    try:
        with psycopg.connect(settings.url(), autocommit=True) as conn:
            found = conn.execute("select 1 from pg_database where datname = %s", [DAY_ONE_DB]).fetchone()
        if found is None:
            raise SystemExit(f"no database {DAY_ONE_DB}: run bench/scale.py --next-day --keep-day-one first")
        figures = replay(settings, args.day_two, args.vacuum_raw, folder)
    finally:
        if settings.embedded and not was_running:
            _embedded(settings).stop()  # this script started it
    shutil.rmtree(folder, ignore_errors=True)  # kept after a failure: the steps' logs are there

    title = f"day two replayed{' after vacuuming raw' if args.vacuum_raw else ''} ({figures['rows_loaded']:,} rows)"
    table = Table(title=title)
    for column in ("part", "nodes", "seconds", "of which compile"):
        table.add_column(column, justify="left" if column == "part" else "right")
    table.add_row("load", "", f"{figures['load_seconds']:.1f}", "")
    table.add_row("raw gate", "", f"{figures['raw_gate_seconds']:.1f}", "")
    table.add_row("dbt build, dbt's elapsed", "", f"{figures['dbt_elapsed']:.1f}", "")
    for kind, part in sorted(figures["nodes"].items()):
        table.add_row(f"  {kind}, node s", str(part["nodes"]), f"{part['seconds']:.1f}", f"{part['compile']:.1f}")
    Console().print(table)
    if args.out:
        with args.out.open("a") as out:
            out.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    main()
