"""Replay one next day on copies of a bench's day one: the daily build's cost (or a full rebuild's), on one warehouse.

A daily build's seconds in two `bench/scale.py --next-day` runs differ by a tenth with the machine alone, more than
many changes are worth. This replays the same day on copies of the same warehouse instead, so runs can alternate
(a change in the code, a state of the warehouse) and be compared. `bench/scale.py --next-day --keep-day-one` keeps
day one's warehouse, as a daily run starts from it (after its second build and publish), as the database
DAY_ONE_DB, and `--work DIR` keeps day two's exports in DIR/scale-<customers>/day2.

Each replay copies that database to REPLAY_DB, refreshes its statistics (a copy starts without the server's
counters, and the build's analyze hooks would otherwise analyze every table), loads day two, runs the raw gate and
the daily `dbt build` (`--full-refresh`: the full one), each as the bench runs it, and prints the load's and the
gate's own seconds (as the bench's tables show them), dbt's elapsed time and its node seconds by kind of node (a
model's compile time is the queries that decide what an incremental model recomputes), and the `--top` slowest
nodes (`--statements N`: also the N slowest SQL statements of the build's nodes, from dbt's debug log, a plan's
queries among them). `--vacuum-raw` first vacuums the copy's raw tables, as autovacuum did after every load before
raw tables stopped being vacuumed for their inserts (docs/performance.md, "Raw tables kept in load order").

A change to an incremental model's code makes its next build a whole one (its fingerprint changed), so a replay of
day two with it would time that build, not a daily one: `--settle` first builds and publishes day one twice with
the code as it is, untimed (a publish leaves the marts it retires to the next build, which rebuilds whole an
incremental mart whose fingerprint changed), and the replay's build is then a daily one.

`--changed-rows` also counts, mart by mart, the rows day two's build holds that day one's published marts do not
(the build is not published, so `marts` still holds day one's), and the reverse: what a daily build has to write
(and delete) however it computes it, the floor under its cost. Rows are compared whole, and again without the
columns that stamp the moment a mart was measured at (named `*as_of*`), which change every row of their mart every
day; for a mart with a primary key, column by column.

`--full-refresh` times the bench's full rebuild of day two (`dbt build --full-refresh`, after the same load and raw
gate) instead of the daily build: replays alternating between the two give the daily build's share of a full one
on the same warehouse and day, which two bench runs on different days cannot (issue 15's goal is 10%).

`--nothing-new` runs the daily build of day two and publishes it (the bench's publish step; no fit, no marts gate),
untimed, and then times the daily build again: a day with no new exports in the daily cycle. It still brings the
incremental marts up to date, as every daily build does: a publish leaves the retired ones, a day behind, to the
next build (macros/reuse_retired_marts.sql). The rest is what every daily build pays whatever the day brings (the
models rebuilt whole, the data tests, the plans, dbt's own work per node).

    export TEALEAVES_HOME=... TEALEAVES_PG_PORT=...   # the server the bench ran on
    .venv/bin/python bench/scale.py --customers 100000 --start 2024-12-01 --end 2026-11-16 --next-day \\
        --keep-day-one --work /tmp/bench
    for i in 1 2; do
        .venv/bin/python bench/replay_day.py /tmp/bench/scale-100000/day2 --vacuum-raw
        .venv/bin/python bench/replay_day.py /tmp/bench/scale-100000/day2
    done
    for i in 1 2; do   # the daily build's share of a full one
        .venv/bin/python bench/replay_day.py /tmp/bench/scale-100000/day2 --out share.jsonl
        .venv/bin/python bench/replay_day.py /tmp/bench/scale-100000/day2 --full-refresh --out share.jsonl
        .venv/bin/python bench/replay_day.py /tmp/bench/scale-100000/day2 --nothing-new --out share.jsonl
    done
"""

from __future__ import annotations

import argparse
import json
import re
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
    DAILY_BUILD,
    DAY_ONE_DB,
    DBT_STEPS,
    FULL_REBUILD,
    Measured,
    _embedded,
    machine_facts,
    run_measured,
    step_environ,
)

from tealeaves.config import Settings, get_settings
from tealeaves.db.setup import drop_database, scratch_database
from tealeaves.dbt_cli import dbt_executable
from tealeaves.orchestrate import start_server
from tealeaves.publish import BUILD, PUBLISHED

REPLAY_DB = "tealeaves_scale_replay"
SCALE = Path(__file__).with_name("scale.py")


def step(name: str, command: list[str], url: str, folder: Path) -> Measured:
    """Run one of the bench's steps on `url`, as the bench runs it."""
    measured = run_measured(command, step_environ(url, folder / "dbt"), folder / f"{name}.log", None)
    if measured.returncode != 0:
        raise SystemExit(f"{name} failed; see {folder / f'{name}.log'}")
    return measured


def compile_seconds(result: dict) -> float:
    """A node's compile seconds in dbt's run results (an incremental model's: the queries choosing its rows)."""
    return sum(
        (datetime.fromisoformat(t["completed_at"]) - datetime.fromisoformat(t["started_at"])).total_seconds()
        for t in result["timing"]
        if t["name"] == "compile"
    )


def step_command(name: str, data: Path, folder: Path) -> list[str]:
    """The command of one of the bench's steps in Python, its result written to FOLDER/NAME.json."""
    return [
        *(sys.executable, str(SCALE), "--step", name, "--data", str(data), "--run-id", "replay"),
        *("--docs", str(folder / "docs"), "--result", str(folder / f"{name}.json")),
    ]


def build_step(full_refresh: bool = False) -> str:
    """The bench's step whose build a replay times: its next day's daily build, or the full rebuild it compares."""
    return FULL_REBUILD if full_refresh else DAILY_BUILD


def build_command(settings: Settings, statements: bool = False, full_refresh: bool = False) -> list[str]:
    """The command of the bench's daily build (the one its next day runs), or, with `full_refresh`, of the full rebuild
    its next day compares it with; with `statements`, dbt's file log at debug level in one file (the last
    --log-level-file wins), where each SQL statement's seconds are."""
    command = [dbt_executable(), *DBT_STEPS[build_step(full_refresh)], "--project-dir", str(settings.dbt_project_dir)]
    return [*command, "--log-level-file", "debug", "--log-file-max-bytes", "0"] if statements else command


_LOG_RECORD = re.compile(r"^(?:\x1b\[0m)?\d\d:\d\d:\d\d\.\d+ \[(\w+)\s*\] \[([^\]]+)\]: (.*)$")
_STATEMENT = re.compile(r"^On (?:model|test|seed|operation)\.[\w-]+\.([\w.]+): (.*)$")
_STATUS = re.compile(r"^SQL status: .* in ([0-9.]+) seconds$")


def slowest_statements(log: Path, count: int) -> list[dict]:
    """The `count` slowest SQL statements in dbt's debug log, each with its node, its seconds as dbt timed it and its
    first words. dbt logs a statement's text as "On <node>: <sql>" (continued on the lines after) and its status,
    with its seconds, on the same thread when it returns; a plan's queries are among them, which run_results.json
    only sums as the node's compile time."""
    found: list[dict] = []
    running: dict[str, tuple[str, list[str]]] = {}  # thread: (node, the statement's lines)
    text: list[str] | None = None
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        record = _LOG_RECORD.match(line)
        if record is None:
            if text is not None:
                text.append(line.strip())
            continue
        text = None
        _, thread, message = record.groups()
        if statement := _STATEMENT.match(message):
            text = [statement.group(2)]
            running[thread] = (statement.group(1), text)
        elif (status := _STATUS.match(message)) and thread in running:
            node, lines = running.pop(thread)
            sql_text = re.sub(r"/\*.*?\*/", "", " ".join(lines), count=1)
            found.append({"node": node, "seconds": float(status.group(1)), "sql": " ".join(sql_text.split())[:200]})
    return sorted(found, key=lambda statement: -statement["seconds"])[:count]


def node_seconds(results: list[dict], manifest: dict) -> dict[str, dict[str, float]]:
    """dbt's node seconds by kind of node (a model by its materialization), with their compile seconds."""
    kinds: dict[str, dict[str, float]] = defaultdict(lambda: {"nodes": 0, "seconds": 0.0, "compile": 0.0})
    for result in results:
        node = manifest["nodes"].get(result["unique_id"], {})
        kind = result["unique_id"].split(".")[0]  # exposures and unit tests are not among the manifest's nodes
        if kind == "model":
            kind = f"model ({node['config']['materialized']})"
        kinds[kind]["nodes"] += 1
        kinds[kind]["seconds"] += result["execution_time"]
        kinds[kind]["compile"] += compile_seconds(result)
    return dict(kinds)


def nodes_by_seconds(results: list[dict]) -> list[dict]:
    """Every node, the slowest first, with its seconds and compile seconds."""
    nodes = [
        {
            "node": result["unique_id"].split(".", 2)[-1],
            "seconds": round(result["execution_time"], 2),
            "compile": round(compile_seconds(result), 2),
        }
        for result in results
    ]
    return sorted(nodes, key=lambda node: -node["seconds"])


def _rows_as_text(schema: str, table: str, columns: list[str]) -> sql.Composable:
    """A table's rows as text, of the given columns."""
    selected = sql.SQL("row({})::text").format(sql.SQL(", ").join(sql.Identifier("t", name) for name in columns))
    return sql.SQL("select {} from {} as t").format(selected, sql.Identifier(schema, table))


def _rows_lacking(conn: psycopg.Connection, table: str, columns: list[str], reverse: bool = False) -> int:
    """How many rows of the build's `table` the published one lacks, or, `reverse`, the published one's the build
    lacks (as multisets: twice against once is one), over `columns`."""
    sides = [_rows_as_text(BUILD, table, columns), _rows_as_text(PUBLISHED, table, columns)]
    query = sql.SQL("select count(*) from ({} except all {}) as lacking").format(*(sides[::-1] if reverse else sides))
    return conn.execute(query).fetchone()[0]


def changed_rows(conn: psycopg.Connection) -> list[dict]:
    """Per mart: day two's rows (`marts_build`); how many of them day one's `marts` lacks (new or changed), whole and
    without the `*as_of*` columns; how many of day one's day two lacks (gone or changed); and per column for a mart
    with a primary key. Over the columns both days' tables have (a replay without --settle may change them)."""
    found = []
    tables = conn.execute(
        "select table_name from information_schema.tables where table_schema = %s and table_type = 'BASE TABLE'"
        " and table_name in (select table_name from information_schema.tables where table_schema = %s) order by 1",
        [BUILD, PUBLISHED],
    ).fetchall()
    for (table,) in tables:
        shared = [name for name in _columns(conn, BUILD, table) if name in _columns(conn, PUBLISHED, table)]
        unstamped = [name for name in shared if "as_of" not in name]
        total = conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(BUILD, table))).fetchone()[0]
        found.append(
            {
                "mart": table,
                "rows": total,
                "changed": _rows_lacking(conn, table, shared),
                "changed_without_as_of": _rows_lacking(conn, table, unstamped),
                "gone_or_changed": _rows_lacking(conn, table, shared, reverse=True),
                "changed_by_column": _changed_columns(conn, table, shared),
            }
        )
    return found


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    """A table's columns, in order."""
    found = conn.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s"
        " order by ordinal_position",
        [schema, table],
    )
    return [name for (name,) in found]


def _changed_columns(conn: psycopg.Connection, table: str, shared: list[str]) -> dict[str, int]:
    """For a mart with a primary key: each of the `shared` columns' count of rows, matched by the key, whose value
    changed (a row new or gone counts in every column), the columns that changed in no row left out; none without
    a key."""
    key = [
        name
        for (name,) in conn.execute(
            "select attname from pg_index join pg_attribute on attrelid = indrelid and attnum = any(indkey)"
            " where indrelid = %s::regclass and indisprimary order by array_position(indkey, attnum)",
            [f'"{BUILD}"."{table}"'],
        )
    ]
    if not key:
        return {}
    columns = [name for name in shared if name not in key]
    if not columns:
        return {}
    counts = sql.SQL(", ").join(
        sql.SQL(
            "count(*) filter (where day_two.{0} is distinct from day_one.{0} or day_one is null or day_two is null)"
        ).format(sql.Identifier(name))
        for name in columns
    )
    query = sql.SQL("select {} from {} as day_two full join {} as day_one using ({})").format(
        counts,
        sql.Identifier(BUILD, table),
        sql.Identifier(PUBLISHED, table),
        sql.SQL(", ").join(sql.Identifier(name) for name in key),
    )
    changed = conn.execute(query).fetchone()
    return {name: count for name, count in zip(columns, changed, strict=True) if count}


def replay(
    settings: Settings,
    day_two: Path,
    vacuum_raw: bool,
    folder: Path,
    count_changed_rows: bool,
    settle: bool,
    keep_database: bool = False,
    statements: int = 0,
    full_refresh: bool = False,
    nothing_new: bool = False,
) -> dict:
    """One replay on a fresh copy of DAY_ONE_DB; its figures. The copy is dropped afterwards, even after a failure,
    unless `keep_database` (to read the plans of day two's statements against day two's tables). `statements`: how
    many of the build's slowest SQL statements to keep with them (none: dbt's file log stays off).
    `full_refresh`: time the bench's full rebuild of day two instead of the daily build, after the same load.
    `nothing_new`: build and publish day two untimed, then time the daily build again."""
    started = time.perf_counter()
    scratch_database(settings, REPLAY_DB, template=DAY_ONE_DB)
    copied = time.perf_counter() - started
    url = settings.url(settings.warehouse.set(database=REPLAY_DB))
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            if vacuum_raw:
                for (table,) in conn.execute("select tablename from pg_tables where schemaname = 'raw'").fetchall():
                    conn.execute(sql.SQL("vacuum {}").format(sql.Identifier("raw", table)))
            conn.execute("analyze")
        # Day one taken on by this code, untimed: twice, as a publish leaves the marts it retires to the next build
        # (macros/reuse_retired_marts.sql), which rebuilds whole any incremental mart whose fingerprint changed.
        for settling in range(2 if settle else 0):
            step(f"settle_build_{settling}", build_command(settings), url, folder)
            step(f"settle_publish_{settling}", step_command("publish_marts", day_two, folder), url, folder)
        work = {}  # the step's own call, as the bench's tables show it (without the process's start-up)
        for name in ("load", "validate_raw"):
            step(name, step_command(name, day_two, folder), url, folder)
            work[name] = json.loads((folder / f"{name}.json").read_text())
        if nothing_new:  # day two built and published as a daily run leaves it; the next build has no new exports
            step(f"{DAILY_BUILD}_untimed", build_command(settings), url, folder)
            step("publish_marts_untimed", step_command("publish_marts", day_two, folder), url, folder)
        build = step(build_step(full_refresh), build_command(settings, statements > 0, full_refresh), url, folder)
        if count_changed_rows:
            with psycopg.connect(url, autocommit=True) as conn:
                changed = changed_rows(conn)
    finally:
        if not keep_database:
            drop_database(settings, REPLAY_DB)
    target = folder / "dbt" / "target"
    run = json.loads((target / "run_results.json").read_text())
    return {
        "machine": machine_facts(settings, settings.url()),  # the commit and the date among them
        "vacuum_raw": vacuum_raw,
        "settled": settle,
        "build": "full refresh" if full_refresh else "nothing new" if nothing_new else "daily",
        "copy_seconds": round(copied, 1),
        "rows_loaded": work["load"]["rows"],
        "load_seconds": work["load"]["work_seconds"],
        "raw_gate_seconds": work["validate_raw"]["work_seconds"],
        "dbt_elapsed": run["elapsed_time"],
        # whether the build waits on dbt's own Python or on the server: dbt's process CPU against every core's
        "dbt_wall_seconds": round(build.seconds, 1),  # dbt's process, start-up and parse included, as the CPU figures
        "dbt_cpu_seconds": round(build.cpu_seconds, 1),
        "machine_busy_seconds": round(build.machine_busy_seconds, 1),
        "nodes": node_seconds(run["results"], json.loads((target / "manifest.json").read_text())),
        "by_node": nodes_by_seconds(run["results"]),
        **(
            {"slowest_statements": slowest_statements(folder / "dbt" / "logs" / "dbt.log", statements)}
            if statements
            else {}
        ),
        **({"changed_rows": changed} if count_changed_rows else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("day_two", type=Path, help="day two's exports (DIR/scale-<customers>/day2 of the bench)")
    parser.add_argument("--vacuum-raw", action="store_true", help="vacuum the copy's raw tables before loading")
    parser.add_argument(
        "--settle",
        action="store_true",
        help="build and publish day one twice with this code first (untimed), so that a change to an incremental"
        " model is not replayed as its first, whole build",
    )
    parser.add_argument("--changed-rows", action="store_true", help="count each mart's rows day two changed")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the steps' logs, dbt's target (printed) and the replayed database, " + REPLAY_DB,
    )
    parser.add_argument("--top", type=int, default=15, help="how many of the slowest nodes to print")
    parser.add_argument(
        "--statements",
        type=int,
        default=0,
        metavar="N",
        help="also print the N slowest SQL statements of the build's nodes (dbt's file log at debug level, a"
        " little slower; the run's hooks are not among them)",
    )
    build = parser.add_mutually_exclusive_group()  # which build the replay times
    build.add_argument(
        "--full-refresh",
        action="store_true",
        help="time the bench's full rebuild (dbt build --full-refresh) of day two instead of the daily build: the"
        " daily build's share of it, from replays alternating on the same day one",
    )
    build.add_argument(
        "--nothing-new",
        action="store_true",
        help="build and publish day two untimed, then time the daily build again: a day with no new exports in"
        " the daily cycle (the retired marts are still brought up to date)",
    )
    parser.add_argument("--out", type=Path, help="append the replay's figures to this JSON Lines file")
    args = parser.parse_args()
    if args.nothing_new and args.changed_rows:
        parser.error(
            "--changed-rows compares day two's build with day one's published marts; --nothing-new publishes day two"
        )
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
        figures = replay(
            settings,
            args.day_two,
            args.vacuum_raw,
            folder,
            args.changed_rows,
            args.settle,
            keep_database=args.keep,
            statements=args.statements,
            full_refresh=args.full_refresh,
            nothing_new=args.nothing_new,
        )
    finally:
        if settings.embedded and not was_running:
            _embedded(settings).stop()  # this script started it
    if args.keep:
        print(f"logs and dbt's target kept in {folder}, the replayed warehouse in database {REPLAY_DB}")
    else:
        shutil.rmtree(folder, ignore_errors=True)  # kept after a failure: the steps' logs are there

    title = f"day two replayed{' after vacuuming raw' if args.vacuum_raw else ''} ({figures['rows_loaded']:,} rows)"
    table = Table(title=title)
    for column in ("part", "nodes", "seconds", "of which compile"):
        table.add_column(column, justify="left" if column == "part" else "right")
    table.add_row("load", "", f"{figures['load_seconds']:.1f}", "")
    table.add_row("raw gate", "", f"{figures['raw_gate_seconds']:.1f}", "")
    table.add_row(f"dbt build ({figures['build']}), dbt's elapsed", "", f"{figures['dbt_elapsed']:.1f}", "")
    table.add_row("  dbt's process, CPU s", "", f"{figures['dbt_cpu_seconds']:.1f}", "")
    table.add_row("  every core meanwhile, busy CPU s", "", f"{figures['machine_busy_seconds']:.1f}", "")
    for kind, part in sorted(figures["nodes"].items()):
        table.add_row(f"  {kind}, node s", str(part["nodes"]), f"{part['seconds']:.1f}", f"{part['compile']:.1f}")
    console = Console()
    console.print(table)
    slowest = Table(title=f"the {args.top} slowest nodes")
    for column in ("node", "seconds", "of which compile"):
        slowest.add_column(column, justify="left" if column == "node" else "right")
    for node in figures["by_node"][: args.top]:
        slowest.add_row(node["node"], f"{node['seconds']:.2f}", f"{node['compile']:.2f}")
    console.print(slowest)
    if args.statements:
        statements = Table(title=f"the build's {args.statements} slowest SQL statements")
        for column in ("node", "seconds", "statement"):
            statements.add_column(column, justify="right" if column == "seconds" else "left", no_wrap=True)
        for statement in figures["slowest_statements"]:
            statements.add_row(statement["node"], f"{statement['seconds']:.2f}", statement["sql"][:100])
        console.print(statements)
    if args.changed_rows:
        changed = Table(title="rows of day two's marts that day one's lack")
        for column in ("mart", "rows", "new or changed", "%", "without *as_of*", "% without", "gone or changed"):
            changed.add_column(column, justify="left" if column == "mart" else "right")
        for mart in figures["changed_rows"]:
            share = 100 * mart["changed"] / mart["rows"] if mart["rows"] else 0.0
            share_kept = 100 * mart["changed_without_as_of"] / mart["rows"] if mart["rows"] else 0.0
            changed.add_row(
                mart["mart"],
                f"{mart['rows']:,}",
                f"{mart['changed']:,}",
                f"{share:.1f}",
                f"{mart['changed_without_as_of']:,}",
                f"{share_kept:.1f}",
                f"{mart['gone_or_changed']:,}",
            )
        console.print(changed)
        for mart in figures["changed_rows"]:
            if mart["changed_without_as_of"] and mart["changed_by_column"]:
                by_column = ", ".join(f"{name} {count:,}" for name, count in mart["changed_by_column"].items())
                console.print(f"{mart['mart']}, rows changed by column: {by_column}")
    if args.out:
        with args.out.open("a") as out:
            out.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    main()
