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
    for name, justify in [("month", "left"), ("channel", "left"), ("spend USD", "right"),
                          ("new customers", "right"), ("paid CAC USD", "right")]:
        table.add_column(name, justify=justify)
    for month, channel, spend, new, cac in rows:
        table.add_row(month.strftime("%Y-%m"), channel, f"{spend:,.2f}", str(new), "—" if cac is None else f"{cac:,.2f}")
    return table
