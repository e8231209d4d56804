"""A small fct_acquisition_cost for quality-gate tests: its DDL, rows that pass, and the project's suite for it."""

from __future__ import annotations

from tealeaves.config import PROJECT_ROOT

SUITE = "fct_acquisition_cost"
SUITE_FILE = PROJECT_ROOT / "expectations" / "marts" / f"{SUITE}.py"

TABLE_DDL = """
create table {}.fct_acquisition_cost (
    month          date not null,
    channel        text not null,
    spend          numeric(14, 2) not null,
    new_customers  integer not null,
    cac            numeric(14, 2)
)
"""

Row = tuple[str, str, str, int, str | None]

GOOD_ROWS: list[Row] = [
    ("2024-01-01", "paid_search", "12000.00", 80, "150.00"),
    ("2024-01-01", "social", "3000.00", 0, None),
    ("2024-02-01", "paid_search", "10000.00", 3, "3333.33"),
    ("2024-02-01", "social", "0.00", 4, "0.00"),
    ("2024-02-01", "organic_search", "0.00", 7, "0.00"),  # organic: customers without spend cost 0
]
