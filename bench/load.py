"""Benchmark: tealeaves' loader against a plain COPY and pandas.to_sql, on the same generated file.

Not a test. Prints rows per second and the ratios; the goal is the loader (validation and quarantine
included) at 0.5x plain COPY or better.

    .venv/bin/tealeaves db start
    .venv/bin/python bench/load.py --rows 500000
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from pathlib import Path

import pandas as pd
import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine

from tealeaves import sources
from tealeaves.config import get_settings
from tealeaves.load import load_paths
from tealeaves.orchestrate import start_server

BENCH_DB = "tealeaves_bench"


def write_companies(path: Path, rows: int, bad_share: float, seed: int = 7) -> None:
    """A companies export of `rows` records, a small share of them broken the ways real exports are."""
    rng = random.Random(seed)
    channels = ["PAID_SEARCH", "PAID_SOCIAL", "ORGANIC_SEARCH", "REFERRALS"]
    columns = sources.contracts()[("crm", "companies")].column_names
    breakable = ["hs_object_id", "createdate", "numberofemployees"]
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(columns)
        for i in range(rows):
            row = {
                "hs_object_id": 9_000_000_000 + i,
                "name": f"Company {i}",
                "domain": f"company-{i}.com",
                "createdate": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z",
                "lifecyclestage": "lead",
                "hs_analytics_source": rng.choice(channels),
                "industry": "software",
                "numberofemployees": rng.randint(1, 5000),
                "country": "US",
            }
            if rng.random() < bad_share:
                row[rng.choice(breakable)] = "n/a"
            out.writerow([row.get(c, "") for c in columns])


def fresh_database(admin_url: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(BENCH_DB)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(BENCH_DB)))
    return admin_url.rsplit("/", 1)[0] + "/" + BENCH_DB


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def plain_copy(url: str, path: Path) -> None:
    """What a hand-written load does: one typed table, COPY, no validation (one bad row aborts it all)."""
    contract = sources.contracts()[("crm", "companies")]
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL("text" if i == 0 else c.type))
        for i, c in enumerate(contract.columns)
    )
    with psycopg.connect(url) as conn:
        conn.execute(sql.SQL("create table plain_companies ({})").format(columns))
        with (
            conn.cursor().copy("copy plain_companies from stdin with (format csv, header true)") as copy,
            open(path, "rb") as handle,
        ):
            while chunk := handle.read(1 << 20):
                copy.write(chunk)


def pandas_to_sql(url: str, path: Path) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    frame = pd.read_csv(path, dtype=str)
    frame.to_sql("pandas_companies", engine, index=False, chunksize=5_000, method="multi")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--bad-share", type=float, default=0.001, help="share of rows with a bad value")
    args = parser.parse_args()
    console = Console()
    settings = get_settings()
    start_server(settings)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "companies.csv"
        write_companies(path, args.rows, args.bad_share)
        size_mb = path.stat().st_size / 1e6
        # Plain COPY cannot take the bad rows at all; it gets the same file without them, to be fair to it.
        clean = Path(tmp) / "clean.csv"
        write_companies(clean, args.rows, 0.0)
        results = {}
        url = fresh_database(settings.url(settings.warehouse.set(database="postgres")))
        results["tealeaves loader (validate + quarantine)"] = timed(lambda: load_paths(url, [path]))
        results["plain COPY (clean file, no checks)"] = timed(lambda: plain_copy(url, clean))
        results["pandas read_csv + to_sql"] = timed(lambda: pandas_to_sql(url, path))
    baseline = results["plain COPY (clean file, no checks)"]
    table = Table(title=f"Loading {args.rows:,} rows ({size_mb:.0f} MB, {args.bad_share:.1%} bad)")
    for name in ("method", "seconds", "rows/s", "speed vs plain COPY"):
        table.add_column(name, justify="left" if name == "method" else "right")
    for name, seconds in results.items():
        table.add_row(name, f"{seconds:.2f}", f"{args.rows / seconds:,.0f}", f"{baseline / seconds:.2f}x")
    console.print(table)


if __name__ == "__main__":
    main()
