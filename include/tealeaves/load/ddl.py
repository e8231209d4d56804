"""The raw schema: one table per source contract, made from the contracts when the loader needs it.

The batch ledger (`raw.load_batches`) and the quarantine (`raw.rejected_rows`) are fixed tables, made and changed
by the warehouse's revisions (tealeaves.db.migrate); the per-contract tables follow `sources/` instead, so they
are created, or given a newer contract's columns, here at load time.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from tealeaves import sources
from tealeaves.db.migrate import ensure_current
from tealeaves.db.roles import MAX_NAME_BYTES
from tealeaves.sources import Contract

RAW = "raw"

# Serialises the DDL of the raw tables below: two loads of one new source would race to create its table.
_RAW_DDL_LOCK = "select pg_advisory_xact_lock(hashtext('tealeaves.raw.ddl'))"

# A raw table only grows: a load appends its batch's rows, and nothing updates or deletes them. Vacuuming it
# reclaims nothing; it records in the free space map the bytes each full page has left at its end, and the next
# load's COPY then puts every row small enough into one of those gaps, all over the table. Each block range the
# BRIN index on _batch_id summarizes then spans old batches and the new one, and a daily read of the day's
# batches reads all of them: at 100,000 customers one day's 3,560 invoices fell into 344 of the table's 1,042
# ranges, a third of it. Autovacuum vacuums such a table for its inserts alone, which this storage parameter
# turns off for raw tables. The price: the freezing those vacuums would do in small steps waits for autovacuum's
# vacuum against transaction-id wraparound, one pass over the whole table, which also fills the map again once.
# So does a vacuum of the dead rows rolled-back loads leave, once they pass autovacuum's threshold, and a manual
# VACUUM. Setting the parameter on a table that was vacuumed before clears nothing: its loads fill the recorded
# gaps first (VACUUM FULL, which locks the table while it rewrites it, clears them at once).
APPEND_ONLY_OPTION = "autovacuum_vacuum_insert_threshold=-1"


def lock_raw_ddl(conn: psycopg.Connection) -> None:
    """Hold the raw tables' DDL lock until `conn`'s transaction ends; parallel loads wait instead of racing."""
    conn.execute(_RAW_DDL_LOCK)


def ensure_table(conn: psycopg.Connection, contract: Contract, existing: set[str] | None = None) -> None:
    """Create the raw table, or add columns a newer contract introduced; never drops anything.

    Call after `lock_raw_ddl` in the same transaction. `existing` is the table's
    columns as the catalog has them (empty when there is no table), read here when not given. DDL runs only
    for what is missing: an `alter table` that changes nothing still takes the table's exclusive lock, which
    waits for every running reader (a dbt build reading raw) and holds up every reader after it.
    """
    if existing is None:  # one table: its own catalog lines (ensure_raw_schema reads every table's at once)
        existing = _raw_columns(conn, contract.table).get(contract.table, set())
    table = sql.Identifier(RAW, contract.table)
    columns = [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in contract.columns]
    if not existing:
        conn.execute(
            sql.SQL(
                "create table if not exists {} (_batch_id bigint not null, _source_line bigint not null,"
                " _loaded_at timestamptz not null default now(), {}) with ({})"
            ).format(table, sql.SQL(", ").join(columns), sql.SQL(APPEND_ONLY_OPTION))
        )
        ensure_block_range_indexes(conn, contract)
        return
    if not _has_append_only_option(conn, contract.table):  # a table made before the option
        conn.execute(sql.SQL("alter table {} set ({})").format(table, sql.SQL(APPEND_ONLY_OPTION)))
    missing = [column for c, column in zip(contract.columns, columns, strict=True) if c.name not in existing]
    if missing:
        conn.execute(
            sql.SQL("alter table {} {}").format(
                table, sql.SQL(", ").join(sql.SQL("add column if not exists {}").format(m) for m in missing)
            )
        )
    # after the columns: a newer contract's instant is indexed on the column it has just added
    if not _has_indexes(conn, contract):  # a table made before one of its indexes existed
        ensure_block_range_indexes(conn, contract)


def batch_index(table: str) -> str:
    return f"{table}__by_batch"


def block_range_indexes(contract: Contract) -> dict[str, str]:
    """The raw table's BRIN indexes (name: column): on the batch id, and on each instant daily runs look rows up by.

    Rows are appended a batch at a time, so batch ids rise with the table's pages (while no vacuum fills the free
    space map: APPEND_ONLY_OPTION), and a block-range index (one summary per 128 pages) finds a batch's pages
    without growing with every row as a B-tree would. dbt's incremental models read `_batch_id` between the run's
    lowest and highest batch (macros/incremental_by_key.sql); without the index each of those reads scanned the
    whole table (2.2 s for the support tables at 100,000 customers, twice per model and run).

    A support event dated after the last as-of moment touches its ticket (macros/support_tickets_incremental.sql),
    whichever batch brought it, so the daily build looks those rows up by their instant in five support tables.
    A load's events are dated no later than the export that brought them, so the ranges of the loads before that
    moment hold none after it (but for an event dated in the future, which costs a range's read, not a wrong row):
    the lookup reads the last loads' ranges. At 100,000 customers the query of the touched tickets took 776 ms,
    most of it scanning four whole tables; with these indexes the comments' part read 169 of the table's pages,
    in 0.9 ms (EXPLAIN ANALYZE on the bench's replayed warehouse).

    Each name is checked: PostgreSQL would cut one over 63 bytes (and the next load would look for it in vain),
    and two columns must not share one.
    """
    indexes = {batch_index(contract.table): "_batch_id"}
    for column in contract.event_time_columns:
        name = f"{contract.table}__by_{column}"
        if len(name.encode()) > MAX_NAME_BYTES or name in indexes:
            raise ValueError(f"{contract.source}/{contract.entity}: no index name for event_time column {column}")
        indexes[name] = column
    return indexes


def ensure_block_range_indexes(conn: psycopg.Connection, contract: Contract) -> None:
    """Make the BRIN indexes block_range_indexes names that the table lacks (a BRIN index on a table of rows is
    summarized as it is made)."""
    for name, column in block_range_indexes(contract).items():
        conn.execute(
            sql.SQL("create index if not exists {} on {} using brin ({})").format(
                sql.Identifier(name), sql.Identifier(RAW, contract.table), sql.Identifier(column)
            )
        )


# A raw table this small is analyzed whole after every load: analyze reads all of it in milliseconds.
SMALL_TABLE_PAGES = 128
# Statistics target of the batch column's own analyze after a small load: a sample of 300 times this many rows.
BATCH_STATISTICS_TARGET = 10
BATCH_COLUMN = "_batch_id"  # every raw row's batch (raw.load_batches)


def refresh_statistics(conn: psycopg.Connection, contract: Contract, rows_loaded: int) -> None:
    """Bring the raw table's statistics up to date after a load of `rows_loaded` rows, inside its transaction.

    The whole table is analyzed when it is small, when a column has no statistics (a new table, or a column a newer
    contract added), or when the load added more rows than autovacuum_analyze_scale_factor (a tenth by default) of
    those the table had: the build reads it right after the load, before autovacuum would, and a first load's table
    guessed tiny gets nested loops that take minutes. A day's batch adds a fraction of a percent to a large table, and
    analyzing all of it for that, as every load did, was the better part of a daily load at 100,000 customers (0.15
    to 0.7 s a table, twice a day for its regular and its late file). After such a load only the batch column is
    analyzed, on a sample a tenth of the usual size (about 0.03 to 0.09 s), so the planner knows the table's new row
    count and, unless the sample missed it, the new batch's id (the raw gate, which selects batches by id, plans
    for a miss: tealeaves.quality.raw_gate.raw_validator). The other columns' statistics age as in any
    table: an analyze of chosen columns leaves PostgreSQL's count of changed rows running, and autovacuum analyzes
    the table whole once the small loads add up to the same tenth.
    """
    whole = conn.execute(
        "select c.relpages < %s"
        " or (select count(*) from pg_stats as s where s.schemaname = %s and s.tablename = %s)"
        "    < (select count(*) from pg_attribute as a where a.attrelid = c.oid and a.attnum > 0"
        "       and not a.attisdropped)"
        " or %s > greatest(c.reltuples, 0) * current_setting('autovacuum_analyze_scale_factor')::float8"
        " from pg_class as c where c.oid = format('%%I.%%I', %s::text, %s::text)::regclass",
        [SMALL_TABLE_PAGES, RAW, contract.table, rows_loaded, RAW, contract.table],
    ).fetchone()[0]
    table = sql.Identifier(RAW, contract.table)
    if whole:
        conn.execute(sql.SQL("analyze {}").format(table))
        return
    conn.execute(sql.SQL("set local default_statistics_target = {}").format(sql.Literal(BATCH_STATISTICS_TARGET)))
    conn.execute(sql.SQL("analyze {} ({})").format(table, sql.Identifier(BATCH_COLUMN)))


def summarize_block_range_indexes(conn: psycopg.Connection, contract: Contract) -> None:
    """Summarize the pages a load appended: unsummarized pages match every query, so each read would scan them."""
    for name in block_range_indexes(contract):
        conn.execute("select brin_summarize_new_values(format('%%I.%%I', %s::text, %s::text)::regclass)", [RAW, name])


def _has_indexes(conn: psycopg.Connection, contract: Contract) -> bool:
    """Whether the raw table has every index block_range_indexes names (one catalog query)."""
    names = list(block_range_indexes(contract))
    return conn.execute(
        "select count(*) = %s from pg_indexes where schemaname = %s and indexname = any(%s)", [len(names), RAW, names]
    ).fetchone()[0]


def _has_append_only_option(conn: psycopg.Connection, table: str) -> bool:
    """Whether the raw table has APPEND_ONLY_OPTION already: setting it again would lock the table for nothing."""
    return conn.execute(
        "select %s = any(coalesce(reloptions, '{}')) from pg_class"
        " where oid = format('%%I.%%I', %s::text, %s::text)::regclass",
        [APPEND_ONLY_OPTION, RAW, table],
    ).fetchone()[0]


def _raw_columns(conn: psycopg.Connection, table: str | None = None) -> dict[str, set[str]]:
    """Each raw table's column names (of one table when `table` is given), from the catalog in one query."""
    rows = conn.execute(
        "select c.relname, a.attname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped"
        " where n.nspname = %s and c.relkind in ('r', 'p') and (%s::text is null or c.relname = %s)",
        [RAW, table, table],
    ).fetchall()
    found: dict[str, set[str]] = {}
    for relname, attname in rows:
        found.setdefault(relname, set()).add(attname)
    return found


def ensure_raw_schema(conn: psycopg.Connection) -> None:
    """The ledger and one raw table for every contract, whether or not any export of it exists.

    A company without a help desk, or without subscriptions, has no such files: its raw tables are empty,
    staging reads zero rows, and the marts that need them build empty instead of failing on a missing relation.
    """
    ensure_current(conn)  # the ledger first, outside the transaction that holds the raw DDL lock
    with conn.transaction():
        lock_raw_ddl(conn)
        existing = _raw_columns(conn)
        for contract in sources.contracts().values():
            ensure_table(conn, contract, existing.get(contract.table, set()))
