"""Rich tables of the published marts, for the terminal."""

from __future__ import annotations

import psycopg
from rich.table import Table

from tealeaves.config import Settings


def acquisition_cost_table(settings: Settings, months: int = 3) -> Table:
    """The last `months` months of marts.fct_acquisition_cost, one row per month and channel."""
    with psycopg.connect(settings.url()) as conn:
        rows = conn.execute(
            """
            select month, channel, spend, new_customers, cac
            from marts.fct_acquisition_cost
            where month > (select max(month) from marts.fct_acquisition_cost) - make_interval(months => %s)
            order by month, spend desc, channel
            """,
            [months],
        ).fetchall()
    table = Table(title=f"Customer acquisition cost by channel (marts.fct_acquisition_cost, last {months} months)")
    for name, justify in [
        ("month", "left"),
        ("channel", "left"),
        ("spend USD", "right"),
        ("new customers", "right"),
        ("paid CAC USD", "right"),
    ]:
        table.add_column(name, justify=justify)
    for month, channel, spend, new, cac in rows:
        shown_cac = "—" if cac is None else f"{cac:,.2f}"
        table.add_row(month.strftime("%Y-%m"), channel, f"{spend:,.2f}", str(new), shown_cac)
    return table


def load_summary(settings: Settings) -> Table:
    """Per raw table: files and rows loaded so far, and rows quarantined with a reason."""
    with psycopg.connect(settings.url()) as conn:
        rows = conn.execute(
            """
            select source, entity, count(*), sum(rows_in), sum(rows_loaded), sum(rows_rejected)
            from raw.load_batches where status = 'loaded'
            group by source, entity order by source, entity
            """
        ).fetchall()
    table = Table(title="Loaded into raw (all batches; rejected rows are in raw.rejected_rows)")
    for name in ("source", "entity", "files", "rows in", "loaded", "rejected"):
        table.add_column(name, justify="left" if name in ("source", "entity") else "right")
    for row in rows:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
    return table


def gate_verdict(settings: Settings, run_id: str) -> str:
    """One line: did the audited build pass, how many checks, and where the details are."""
    with psycopg.connect(settings.url()) as conn:
        checks, failed, warned = conn.execute(
            """
            select count(*),
                   count(*) filter (where not success and severity = 'blocking'),
                   count(*) filter (where not success and severity = 'warning')
            from quality.expectation_results where run_id = %s
            """,
            [run_id],
        ).fetchone()
    if not checks:
        return "no results recorded for this run"
    verdict = "[green]passed[/]" if not failed else f"[red]{failed} blocking failure(s)[/]"
    return f"{verdict}, {checks} expectations checked, {warned} warning(s); details in quality.expectation_results"
