"""Reading the warehouse from a test: one short-lived connection per query."""

from __future__ import annotations

import psycopg
from psycopg import sql


def query(url: str, text: str | sql.Composable, *params) -> list[tuple]:
    """Every row of one query; without params a literal % in the text needs no escaping."""
    with psycopg.connect(url) as conn:
        return conn.execute(text, params or None).fetchall()
