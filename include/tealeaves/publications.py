"""What BI reads while a failed build is held back: which set is in `marts`, and since when.

PostgreSQL keeps no date on a schema, and `publish_marts` swaps schemas by renaming, so the moment of each
publication is recorded here (`quality.publications`) by whoever publishes. An alert can then say "BI still
reads the marts published on Monday at 06:12 by run X" instead of a vague "the previous version".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import psycopg
from psycopg.types.json import Jsonb

from tealeaves.db.migrate import ensure_current
from tealeaves.publish import BUILD, PUBLISHED


class HeldBatch(Protocol):
    """A raw batch the raw gate keeps out of staging (`tealeaves.quality.raw_gate.Batch`)."""

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Publication:
    published_at: datetime
    run_id: str
    tables: dict[str, int]


def record_publication(
    url: str, run_id: str, tables: dict[str, int], published: str = PUBLISHED, now: datetime | None = None
) -> None:
    """Note that `run_id` just published `tables` (name → rows) to `published`; call right after publishing."""
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_current(conn)  # quality.publications is made by the warehouse's revisions (tealeaves.db.migrate)
        conn.execute(
            "insert into quality.publications (published_at, run_id, schema_name, tables) values (%s, %s, %s, %s)",
            [now or datetime.now(UTC), run_id, published, Jsonb(tables)],
        )


def last_publication(conn: psycopg.Connection, published: str = PUBLISHED) -> Publication | None:
    if conn.execute("select to_regclass('quality.publications')").fetchone()[0] is None:
        return None
    row = conn.execute(
        "select published_at, run_id, tables from quality.publications where schema_name = %s"
        " order by published_at desc limit 1",
        [published],
    ).fetchone()
    return Publication(*row) if row else None


def held_back(url: str, run_id: str, build: str = BUILD, published: str = PUBLISHED) -> tuple[str, ...]:
    """Lines for a marts-gate alert: the build not published, and the published set BI reads instead."""
    return (f"The build of run {run_id} in schema `{build}` was NOT published.", bi_reads(url, published))


def held_back_batches(url: str, batches: Sequence[HeldBatch], published: str = PUBLISHED) -> tuple[str, ...]:
    """Lines for a raw-gate alert: each batch kept out of staging, and what BI reads meanwhile."""
    lines = [
        f"{batch.describe()}: marked failed in raw.load_batches; staging skips it until a corrected file passes."
        for batch in batches
    ]
    return (*lines, f"Nothing new is built from it. {bi_reads(url, published)}")


def bi_reads(url: str, published: str = PUBLISHED) -> str:
    """Which published set BI reads now, and since when, as one sentence."""
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            exists = conn.execute("select 1 from pg_namespace where nspname = %s", [published]).fetchone()
            last = last_publication(conn, published)
    except psycopg.Error as error:
        return f"What BI reads could not be looked up ({type(error).__name__}: {error})."
    if not exists:
        return f"Nothing has been published yet: schema `{published}` does not exist, BI has no marts."
    if last is None:
        return f"BI still reads the previously published `{published}` (when it was published is not recorded)."
    when = last.published_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"BI still reads `{published}` as published at {when} by run {last.run_id}"
        f" ({len(last.tables)} tables, {sum(last.tables.values())} rows)."
    )
