"""Benchmark: the queries BI tools send to the customer marts, timed, with whether their plan used an index.

Not a test. A fixed set of representative dashboard queries (the latest month of the customer-month marts and
its at-risk list, one customer's history and page, a segment over a month range, a customer's and a month's
support tickets) runs `--repeat` times each over one connection, after one warm-up run, so the figures are for
data in memory, as a dashboard that is used sees it. Per query: median and p95 milliseconds, from sending the
query to holding its last row, and the indexes its plan used (EXPLAIN (ANALYZE, FORMAT JSON), run once more).
A query about one customer takes a different customer each repetition.

Without --customers it reads the warehouse's published `marts` schema as it is.

With --customers N it measures a scaled copy instead, in scratch schema `bench_bi` (dropped first and at the
end unless --keep): each table the queries read is copied from `marts` about N / (customers in
marts.dim_customers) times, each copy with its customer keys shifted (`<key>#<copy>`; integer keys of a primary
key or unique index, such as ticket_id, moved past the largest one), in the table's own physical order (each
row followed by its copies, so a table stored in month order stays in month order). THIS IS A REPLICATION OF
THE MEASURED DISTRIBUTION, NOT GENERATED DATA: every copy has the same months, amounts, bands and segments as
the real rows it copies, and the ids that no query filters on (CRM company, organisation, requester) repeat.
The copy is analysed and the queries run twice: first with the primary keys of the marts' contracts only (what
the marts had before the `indexes` config), then with every index the dbt project declares, read from its
manifest (dbt_project/target/manifest.json, `dbt parse` writes it), analysed again.

    export TEALEAVES_HOME=... TEALEAVES_PG_PORT=...   # whichever warehouse to measure, with published marts
    .venv/bin/python bench/bi_queries.py                           # the published marts as they are
    .venv/bin/python bench/bi_queries.py --customers 1000000 --out results.json

Two queries sum whole months of customers (health_latest_bands, segment_last_quarter): at 1M customers that
is about a million rows per query, read from the month's pages through the index but every one of them read,
so they stay above the 100 ms the others meet. The same two charts read from the monthly marts, summed once
per build (health_bands_monthly from fct_customer_health_monthly, segment_quarter_monthly from
fct_revenue_retention_monthly), are what a dashboard should send. A mart without customer_key (one row per
month, segment and band) has as many rows at 1M customers as at 1k: the scaled copy holds it once, unshifted.

What it does not measure: concurrent dashboards, a cold cache (the first query after a restart reads from
disk), the time a BI tool spends drawing, and the other marts that are one row per month (they are small).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from tealeaves.config import get_settings
from tealeaves.marts_indexes import Index, catalog_indexes, declared_indexes
from tealeaves.orchestrate import start_server
from tealeaves.publish import PUBLISHED

SCRATCH = "bench_bi"
SEGMENT = "mid_market"  # the middle one by size: smb has about twice its rows, enterprise a tenth


@dataclass(frozen=True)
class Query:
    name: str
    what: str
    text: str  # {s}: the schema; %(customer)s: a customer_key, another each repetition
    tables: tuple[str, ...]


QUERIES = [
    Query(
        "health_latest_bands",
        "customers and MRR per health band, latest month",
        """select health_band, count(*) as customers, sum(mrr_usd) as mrr_usd
        from {s}.fct_customer_health
        where month = (select max(month) from {s}.fct_customer_health)
        group by health_band order by health_band""",
        ("fct_customer_health",),
    ),
    Query(
        "at_risk_list",
        "the latest month's at-risk customers, largest MRR first (100)",
        """select customer_key, segment, acquisition_channel, mrr_usd, health_score, tickets_opened,
            first_reply_breaches, latest_nps_score
        from {s}.fct_customer_health
        where month = (select max(month) from {s}.fct_customer_health) and health_band = 'at_risk'
        order by mrr_usd desc, customer_key limit 100""",
        ("fct_customer_health",),
    ),
    Query(
        "health_bands_monthly",
        "customers and MRR per health band, latest month, from the monthly summary mart",
        """select health_band, customers, mrr_usd
        from {s}.fct_customer_health_monthly
        where segment = 'all' and month = (select max(month) from {s}.fct_customer_health_monthly)
        order by health_band""",
        ("fct_customer_health_monthly",),
    ),
    Query(
        "customer_health_history",
        "one customer's health, month by month",
        """select month, health_score, health_band, mrr_usd, tickets_opened, latest_nps_score
        from {s}.fct_customer_health where customer_key = %(customer)s order by month""",
        ("fct_customer_health",),
    ),
    Query(
        "customer_mrr_history",
        "one customer's MRR movements, month by month",
        """select month, movement_type, opening_mrr, closing_mrr, net_mrr_change
        from {s}.fct_mrr_movements where customer_key = %(customer)s order by month""",
        ("fct_mrr_movements",),
    ),
    Query(
        "segment_last_quarter",
        f"MRR bridge of one segment ({SEGMENT}), latest 3 months",
        f"""select month, count(*) filter (where is_active_at_end) as customers, sum(closing_mrr) as mrr,
            sum(new_mrr) as new_mrr, sum(expansion_mrr) as expansion_mrr, sum(contraction_mrr) as contraction_mrr,
            sum(churned_mrr) as churned_mrr
        from {{s}}.fct_mrr_movements
        where segment = '{SEGMENT}'
            and month > (select max(month) from {{s}}.fct_mrr_movements) - interval '3 months'
        group by month order by month""",
        ("fct_mrr_movements",),
    ),
    Query(
        "segment_quarter_monthly",
        f"MRR bridge of one segment ({SEGMENT}), latest 3 months, from the monthly retention mart",
        f"""select month, customers_at_end as customers, closing_mrr as mrr, new_mrr, expansion_mrr,
            contraction_mrr, churned_mrr
        from {{s}}.fct_revenue_retention_monthly
        where segment = '{SEGMENT}'
            and month > (select max(month) from {{s}}.fct_revenue_retention_monthly) - interval '3 months'
        order by month""",
        ("fct_revenue_retention_monthly",),
    ),
    Query(
        "customer_page",
        "one customer's profile with historical, formula and predicted LTV",
        """select d.customer_key, d.company_name, d.segment, d.acquisition_channel, d.cohort_month,
            d.customer_status, d.current_mrr_usd, d.lifetime_revenue_usd, d.health_band,
            l.historical_ltv_usd, l.formula_ltv_usd, p.probability_alive, p.predicted_clv_usd
        from {s}.dim_customers as d
        left join {s}.fct_customer_lifetime_value as l on l.customer_key = d.customer_key
        left join {s}.fct_predicted_ltv as p on p.customer_key = d.customer_key
        where d.customer_key = %(customer)s""",
        ("dim_customers", "fct_customer_lifetime_value", "fct_predicted_ltv"),
    ),
    Query(
        "customer_tickets",
        "one customer's latest support tickets (20)",
        """select ticket_id, created_at, priority, ticket_status, first_reply_sla_met, resolution_sla_met, subject
        from {s}.fct_support_tickets where customer_key = %(customer)s order by created_at desc limit 20""",
        ("fct_support_tickets",),
    ),
    Query(
        "latest_month_breaches",
        "the latest month's tickets that missed their first-reply SLA, newest first (100)",
        """select ticket_id, created_at, customer_key, priority, channel, first_reply_calendar_minutes,
            first_reply_target_minutes
        from {s}.fct_support_tickets
        where month = (select max(month) from {s}.fct_support_tickets) and not first_reply_sla_met
        order by created_at desc limit 100""",
        ("fct_support_tickets",),
    ),
]
TABLES = sorted({table for query in QUERIES for table in query.tables})


@dataclass
class Timing:
    query: str
    median_ms: float
    p95_ms: float
    rows: int
    indexes: list[str] = field(default_factory=list)  # "table(columns)" of each index the plan read


@dataclass
class Run:
    label: str  # "as published", "primary keys only", "declared indexes"
    schema: str
    timings: list[Timing]


# -- the queries ------------------------------------------------------------------------------------------------
def customers_to_ask(conn: psycopg.Connection, copies: int, count: int) -> list[str]:
    """`count` customers with a health history, spread over the real ones and over the copies, fixed per run."""
    real = [
        row[0]
        for row in conn.execute(
            sql.SQL("select distinct customer_key from {} order by 1").format(
                sql.Identifier(PUBLISHED, "fct_customer_health")
            )
        )
    ]
    if not real:
        raise SystemExit("marts.fct_customer_health is empty: run the daily DAG (tealeaves demo or run) first")
    return [shifted(real[(i * 37) % len(real)], (i * 7919) % copies) for i in range(count)]


def shifted(key: str, copy: int) -> str:
    return key if copy == 0 else f"{key}#{copy}"


def index_names(conn: psycopg.Connection, schema: str) -> dict[str, str]:
    """Index name -> "table(columns)", for reading plans."""
    return {name: f"{i.table}({', '.join(i.columns)})" for name, i in catalog_indexes(conn, schema).items()}


def plan_indexes(plan: dict) -> list[str]:
    """Names of the indexes any node of an EXPLAIN (FORMAT JSON) plan read, in plan order."""
    found = [plan["Index Name"]] if "Index Name" in plan else []
    for child in plan.get("Plans", []):
        found += plan_indexes(child)
    return found


def run_queries(conn: psycopg.Connection, schema: str, label: str, customers: list[str], repeat: int) -> Run:
    names = index_names(conn, schema)
    timings = []
    for query in QUERIES:
        text = sql.SQL(query.text.format(s=sql.Identifier(schema).as_string(conn)))
        conn.execute(text, {"customer": customers[-1]}).fetchall()  # warm-up, not counted
        seconds, rows = [], 0
        for i in range(repeat):
            started = time.perf_counter()
            rows = len(conn.execute(text, {"customer": customers[i % len(customers)]}).fetchall())
            seconds.append(time.perf_counter() - started)
        plan = conn.execute(sql.SQL("explain (analyze, format json) ") + text, {"customer": customers[0]}).fetchone()[
            0
        ][0]["Plan"]
        used = list(dict.fromkeys(names.get(name, name) for name in plan_indexes(plan)))
        timings.append(
            Timing(query.name, round(ms(statistics.median(seconds)), 2), round(ms(p95(seconds)), 2), rows, used)
        )
    return Run(label, schema, timings)


def ms(seconds: float) -> float:
    return seconds * 1000


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


# -- the scaled copy --------------------------------------------------------------------------------------------
def build_copy(conn: psycopg.Connection, copies: int, declared: list[Index], console: Console) -> dict[str, int]:
    """`bench_bi`: each table the queries read, `copies` times over, keys shifted; no index yet. Rows per table."""
    conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(SCRATCH)))
    conn.execute(sql.SQL("create schema {}").format(sql.Identifier(SCRATCH)))
    conn.execute("set work_mem = '256MB'")  # the copies are sorted into the source's order
    rows = {}
    for table in TABLES:
        started = time.perf_counter()
        columns = conn.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = %s and table_name = %s order by ordinal_position",
            [PUBLISHED, table],
        ).fetchall()
        per_customer = any(name == "customer_key" for name, _ in columns)
        integer_keys = {
            column for index in declared if index.table == table and index.unique for column in index.columns
        }
        select = []
        for name, data_type in columns:
            column = sql.Identifier("t", name)
            if name == "customer_key":
                value = sql.SQL("case when copy = 0 then {c} else {c} || '#' || copy end").format(c=column)
            elif name in integer_keys and data_type in ("bigint", "integer"):
                stride = conn.execute(
                    sql.SQL("select coalesce(max({}), 0) + 1 from {}").format(
                        sql.Identifier(name), sql.Identifier(PUBLISHED, table)
                    )
                ).fetchone()[0]
                value = sql.SQL("{} + copy * {}::bigint").format(column, sql.Literal(stride))
            else:
                value = column
            select.append(sql.SQL("{} as {}").format(value, sql.Identifier(name)))
        conn.execute(
            sql.SQL(
                "create table {target} as select {columns} from {source} as t"
                " cross join generate_series(0, {last}) as copy order by t.ctid, copy"
            ).format(
                target=sql.Identifier(SCRATCH, table),
                columns=sql.SQL(", ").join(select),
                source=sql.Identifier(PUBLISHED, table),
                last=sql.Literal(copies - 1 if per_customer else 0),  # a month-grain mart does not grow
            )
        )
        conn.execute(sql.SQL("analyze {}").format(sql.Identifier(SCRATCH, table)))
        rows[table] = conn.execute(
            sql.SQL("select count(*) from {}").format(sql.Identifier(SCRATCH, table))
        ).fetchone()[0]
        console.print(f"  {SCRATCH}.{table}: {rows[table]:,} rows in {time.perf_counter() - started:.1f} s")
    return rows


def add_indexes(conn: psycopg.Connection, indexes: list[Index], console: Console) -> None:
    conn.execute("set maintenance_work_mem = '512MB'")
    touched = set()
    for index in indexes:
        if index.table not in TABLES:
            continue
        started = time.perf_counter()
        conn.execute(index.create(SCRATCH, "_".join((index.table, *index.columns))[:63]))
        touched.add(index.table)
        console.print(
            f"  {index.table}({', '.join(index.columns)}){' unique' if index.unique else ''}:"
            f" {time.perf_counter() - started:.1f} s"
        )
    for table in sorted(touched):
        conn.execute(sql.SQL("analyze {}").format(sql.Identifier(SCRATCH, table)))


# -- output -----------------------------------------------------------------------------------------------------
def print_runs(console: Console, runs: list[Run], title: str) -> None:
    table = Table(title=title)
    table.add_column("query")
    for run in runs:
        table.add_column(f"{run.label}\nmedian / p95 ms", justify="right")
        table.add_column(f"{run.label}\nindexes read")
    if len(runs) == 2:
        table.add_column("median\nspeed-up", justify="right")
    for i, query in enumerate(QUERIES):
        cells = [query.name]
        for run in runs:
            timing = run.timings[i]
            cells += [
                f"{figure(timing.median_ms)} / {figure(timing.p95_ms)}",
                "\n".join(timing.indexes) or "none (scan)",
            ]
        if len(runs) == 2:
            before, after = runs[0].timings[i].median_ms, runs[1].timings[i].median_ms
            cells.append(f"{before / after:,.0f}x" if after else "")
        table.add_row(*cells)
    console.print(table)
    for query in QUERIES:
        console.print(f"  {query.name}: {query.what}", highlight=False)


def figure(milliseconds: float) -> str:
    return f"{milliseconds:,.2f}" if milliseconds < 10 else f"{milliseconds:,.0f}"


def machine_facts(conn: psycopg.Connection) -> dict:
    pg = {
        name: conn.execute(sql.SQL("show {}").format(sql.Identifier(name))).fetchone()[0]
        for name in ("server_version", "shared_buffers", "work_mem", "max_parallel_workers_per_gather")
    }
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "platform": f"{platform.system()} {platform.machine()}",  # not the kernel build: it can name the host
        "load_average": os.getloadavg(),
        "postgresql": pg,
        "tealeaves_commit": commit,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed runs of each query (after one warm-up)")
    parser.add_argument(
        "--customers",
        type=int,
        help="measure a replicated copy of the marts at about this many customers (not generated data: copies of"
        " the real rows with shifted keys), with and without the declared indexes",
    )
    parser.add_argument("--keep", action="store_true", help=f"keep the scratch schema {SCRATCH}")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()

    console = Console()
    if not console.is_terminal:  # a log or a pipe: wide enough for the table's index names
        console = Console(width=170)
    settings = get_settings()
    start_server(settings)
    with psycopg.connect(settings.url(), autocommit=True) as conn:
        real_customers = conn.execute(
            sql.SQL("select count(*) from {}").format(sql.Identifier(PUBLISHED, "dim_customers"))
        ).fetchone()[0]
        result: dict = {"machine": machine_facts(conn), "repeat": args.repeat, "real_customers": real_customers}
        if args.customers is None:
            customers = customers_to_ask(conn, 1, args.repeat)
            runs = [run_queries(conn, PUBLISHED, "as published", customers, args.repeat)]
            title = f"BI queries on {PUBLISHED} ({real_customers:,} customers), {args.repeat} runs each, warm"
        else:
            copies = max(1, round(args.customers / real_customers))
            declared = declared_indexes(settings.dbt_manifest)
            console.print(
                f"replicating the measured distribution, not generating data: {real_customers:,} real customers"
                f" x {copies:,} copies with shifted keys = {real_customers * copies:,} customers in {SCRATCH}"
            )
            try:
                rows = build_copy(conn, copies, declared, console)
                customers = customers_to_ask(conn, copies, args.repeat)
                keys_only = [index for index in declared if index.origin != "indexes"]
                console.print("primary keys of the contracts:")
                add_indexes(conn, keys_only, console)
                before = run_queries(conn, SCRATCH, "primary keys only", customers, args.repeat)
                console.print("the indexes declared in the dbt project (indexes config):")
                add_indexes(conn, [index for index in declared if index.origin == "indexes"], console)
                after = run_queries(conn, SCRATCH, "declared indexes", customers, args.repeat)
            finally:
                if not args.keep:
                    conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(SCRATCH)))
            runs = [before, after]
            result |= {"replication": {"copies": copies, "customers": real_customers * copies, "rows": rows}}
            title = (
                f"BI queries on a {copies:,}x replication of {PUBLISHED} ({real_customers * copies:,} customers; copies"
                f" of the measured rows, not generated data), {args.repeat} runs each, warm"
            )
    print_runs(console, runs, title)
    result["machine"]["load_average_after"] = os.getloadavg()  # other work on the machine while it ran
    result |= {"title": title, "runs": [asdict(run) for run in runs], "queries": [asdict(q) for q in QUERIES]}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        console.print(f"results in {args.out}")


if __name__ == "__main__":
    main()
