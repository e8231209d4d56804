"""Benchmark: tealeaves' loader against a plain COPY and pandas.to_sql, on the same generated files.

Not a test. Prints rows per second and the ratios; the goal is the loader (validation and quarantine
included) at 0.5x plain COPY or better, for a CSV export (CRM companies) and a JSON Lines one (Stripe charges).
Plain COPY of the JSON Lines file puts each line in one `jsonb` column: PostgreSQL parses every document, as
a hand-written load must, but nothing is typed or checked. Both load into a warehouse that exists: its ledger
and its raw tables (one per contract, with their indexes) are made before the clock starts, as every load after a
warehouse's first finds them, so the figures compare the loads of one file.

    .venv/bin/tealeaves db start
    .venv/bin/python bench/load.py --rows 500000             # both formats; --format csv or jsonl for one
"""

from __future__ import annotations

import argparse
import csv
import json
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
from tealeaves.db.setup import scratch_database
from tealeaves.load import load_paths
from tealeaves.load.ddl import ensure_raw_schema
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


def write_charges(path: Path, rows: int, bad_share: float, seed: int = 7) -> None:
    """A Stripe charges export of `rows` records, a small share broken: a bad amount or time, no id, a cut line."""
    rng = random.Random(seed)
    with open(path, "w") as handle:
        for i in range(rows):
            paid = rng.random() < 0.9
            amount = rng.randint(500, 500_000)
            row: dict = {
                "id": f"ch_{i:014d}",
                "object": "charge",
                "customer": f"cus_{i % 50_000:08d}",
                "invoice": f"in_{i:014d}",
                "status": "succeeded" if paid else "failed",
                "amount": amount,
                "amount_captured": amount if paid else 0,
                "amount_refunded": 0,
                "currency": rng.choice(["usd", "eur", "gbp"]),
                "paid": paid,
                "captured": paid,
                "refunded": False,
                "failure_code": None if paid else "card_declined",
                "failure_message": None if paid else "Your card was declined.",
                "description": f"Subscription update {i}",
                "outcome": {
                    "type": "authorized" if paid else "issuer_declined",
                    "network_status": "approved_by_network",
                },
                "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "4242"}},
                "created": 1_735_700_000 + i * 60,
                "metadata": {},
            }
            line = json.dumps(row)
            if rng.random() < bad_share:
                broken = rng.choice(["amount", "created", "id", "cut"])
                if broken == "id":
                    del row["id"]
                elif broken != "cut":
                    row[broken] = "n/a"
                line = json.dumps(row) if broken != "cut" else line[: len(line) // 2]
            handle.write(line + "\n")


def warehouse(settings) -> str:
    """A new bench database with the warehouse's ledger and raw tables, as a load finds them after the first."""
    url = scratch_database(settings, BENCH_DB)
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_raw_schema(conn)
    return url


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def plain_copy_csv(url: str, path: Path) -> None:
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


def plain_copy_jsonl(url: str, path: Path) -> None:
    """Each line into one jsonb column (CSV format with quote and delimiter bytes JSON never holds, so that a
    backslash in the JSON stays as it is)."""
    with psycopg.connect(url) as conn:
        conn.execute("create table plain_charges (doc jsonb)")
        with (
            conn.cursor().copy(
                "copy plain_charges from stdin with (format csv, quote e'\\x01', delimiter e'\\x02')"
            ) as copy,
            open(path, "rb") as handle,
        ):
            while chunk := handle.read(1 << 20):
                copy.write(chunk)


def pandas_to_sql(url: str, path: Path) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    frame = pd.read_csv(path, dtype=str)
    frame.to_sql("pandas_companies", engine, index=False, chunksize=5_000, method="multi")
    engine.dispose()


def bench_csv(url: str, folder: Path, rows: int, bad_share: float, pandas: bool) -> tuple[float, dict[str, float]]:
    path = folder / "companies.csv"
    write_companies(path, rows, bad_share)
    # Plain COPY cannot take the bad rows at all; it gets the same file without them, to be fair to it.
    clean = folder / "clean.csv"
    write_companies(clean, rows, 0.0)
    results = {
        "tealeaves loader (validate + quarantine)": timed(lambda: load_paths(url, [path])),
        "plain COPY (clean file, no checks)": timed(lambda: plain_copy_csv(url, clean)),
    }
    if pandas:
        results["pandas read_csv + to_sql"] = timed(lambda: pandas_to_sql(url, path))
    return path.stat().st_size / 1e6, results


def bench_jsonl(url: str, folder: Path, rows: int, bad_share: float, pandas: bool) -> tuple[float, dict[str, float]]:
    path = folder / "charges.jsonl"
    write_charges(path, rows, bad_share)
    clean = folder / "clean.jsonl"
    write_charges(clean, rows, 0.0)
    return path.stat().st_size / 1e6, {
        "tealeaves loader (validate + quarantine)": timed(lambda: load_paths(url, [path])),
        "plain COPY (clean file, into one jsonb column)": timed(lambda: plain_copy_jsonl(url, clean)),
    }


BENCHES = {"csv": ("CSV, crm/companies", bench_csv), "jsonl": ("JSON Lines, billing/charges", bench_jsonl)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--bad-share", type=float, default=0.001, help="share of rows with a bad value")
    parser.add_argument("--format", choices=[*BENCHES, "both"], default="both")
    parser.add_argument("--no-pandas", action="store_true", help="skip pandas (minutes at 500,000 rows)")
    args = parser.parse_args()
    console = Console(width=120)
    settings = get_settings()
    start_server(settings)
    for name in BENCHES if args.format == "both" else [args.format]:
        label, bench = BENCHES[name]
        with tempfile.TemporaryDirectory() as tmp:
            size_mb, results = bench(warehouse(settings), Path(tmp), args.rows, args.bad_share, not args.no_pandas)
        baseline = next(seconds for method, seconds in results.items() if method.startswith("plain COPY"))
        table = Table(title=f"{label}: {args.rows:,} rows ({size_mb:.0f} MB, {args.bad_share:.1%} bad)")
        for column in ("method", "seconds", "rows/s", "speed vs plain COPY"):
            table.add_column(column, justify="left" if column == "method" else "right")
        for method, seconds in results.items():
            table.add_row(method, f"{seconds:.2f}", f"{args.rows / seconds:,.0f}", f"{baseline / seconds:.2f}x")
        console.print(table)


if __name__ == "__main__":
    main()
