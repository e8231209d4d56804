"""The raw schema: one table per source contract plus the batch ledger and the quarantine."""

from __future__ import annotations

import psycopg
from psycopg import sql

from tealeaves import sources
from tealeaves.sources import Contract

RAW = "raw"

LEDGER = """
create schema if not exists raw;
create table if not exists raw.load_batches (
    batch_id       bigserial primary key,
    source         text not null,
    entity         text not null,
    file_name      text not null,
    file_path      text not null,
    content_hash   text not null,
    rows_in        bigint,
    rows_loaded    bigint,
    rows_rejected  bigint,
    started_at     timestamptz not null,
    finished_at    timestamptz,
    status         text not null constraint load_batches_status_check
                   check (status in ('loading', 'loaded', 'failed')),
    error          text
);
-- 'loading' (committed before the load starts, so a killed load leaves a line) came after the first ledgers.
do $$ begin
    if not exists (
        select from pg_constraint where conrelid = 'raw.load_batches'::regclass
           and conname = 'load_batches_status_check' and pg_get_constraintdef(oid) like '%loading%'
    ) then
        alter table raw.load_batches drop constraint if exists load_batches_status_check;
        alter table raw.load_batches add constraint load_batches_status_check
            check (status in ('loading', 'loaded', 'failed'));
    end if;
end $$;
-- The raw gate's verdict on the batch (tealeaves.quality.raw_gate); staging skips failed batches.
alter table raw.load_batches add column if not exists validation text not null default 'pending'
    check (validation in ('pending', 'passed', 'failed'));
alter table raw.load_batches add column if not exists validated_at timestamptz;
alter table raw.load_batches add column if not exists validation_run_id text;
create unique index if not exists load_batches_content_once
    on raw.load_batches (source, entity, content_hash) where status = 'loaded';
create table if not exists raw.rejected_rows (
    batch_id     bigint not null references raw.load_batches (batch_id),
    source       text not null,
    entity       text not null,
    file_name    text not null,
    line_number  bigint not null,
    raw_text     text not null,
    reason       text not null,
    rejected_at  timestamptz not null default now()
);
create index if not exists rejected_rows_batch on raw.rejected_rows (batch_id);
-- Raw rows name their batch without a foreign key (a per-row check doubled the cost of a load). What the key
-- guaranteed holds here instead, once per statement: a loaded batch's ledger line is never deleted, nor its id
-- or status changed, so every raw row's `_batch_id` keeps naming a loaded batch.
create or replace function raw.keep_loaded_batches() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' or new.batch_id <> old.batch_id or new.status <> 'loaded' then
        raise exception 'raw.load_batches: batch % is loaded; its ledger line cannot be deleted or changed',
            old.batch_id using errcode = 'integrity_constraint_violation';
    end if;
    return coalesce(new, old);
end $$;
create or replace trigger load_batches_keep_loaded
    before update or delete on raw.load_batches
    for each row when (old.status = 'loaded') execute function raw.keep_loaded_batches();
"""


def ensure_ledger(conn: psycopg.Connection) -> None:
    """Create the ledger once; parallel load tasks wait on a lock instead of racing to `create schema`."""
    conn.execute("select pg_advisory_xact_lock(hashtext('tealeaves.raw.ddl'))")
    conn.execute(LEDGER)


def ensure_table(conn: psycopg.Connection, contract: Contract, existing: set[str] | None = None) -> None:
    """Create the raw table, or add columns a newer contract introduced; never drops anything.

    Call after `ensure_ledger` in the same transaction, which holds the DDL lock. `existing` is the table's
    columns as the catalog has them (empty when there is no table), read here when not given. DDL runs only
    for what is missing: an `alter table` that changes nothing still takes the table's exclusive lock, which
    waits for every running reader (a dbt build reading raw) and holds up every reader after it.
    """
    if existing is None:  # one table: its own catalog lines (ensure_raw_schema reads every table's at once)
        existing = _raw_columns(conn, contract.table).get(contract.table, set())
        if existing:
            _drop_batch_foreign_keys(conn, contract.table)
    table = sql.Identifier(RAW, contract.table)
    columns = [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in contract.columns]
    if not existing:
        conn.execute(
            sql.SQL(
                "create table if not exists {} (_batch_id bigint not null, _source_line bigint not null,"
                " _loaded_at timestamptz not null default now(), {})"
            ).format(table, sql.SQL(", ").join(columns))
        )
        return
    missing = [column for c, column in zip(contract.columns, columns, strict=True) if c.name not in existing]
    if missing:
        conn.execute(
            sql.SQL("alter table {} {}").format(
                table, sql.SQL(", ").join(sql.SQL("add column if not exists {}").format(m) for m in missing)
            )
        )


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


def _drop_batch_foreign_keys(conn: psycopg.Connection, table: str | None = None) -> None:
    """Raw tables made before issue 15 checked `_batch_id` against the ledger row by row, which doubled the cost
    of every load. The loader writes a batch's rows only in the transaction that holds its ledger line locked
    and marks it loaded, and nothing deletes a ledger line that has rows, so the key is dropped (from every
    raw table, or from `table`)."""
    keys = conn.execute(
        "select c.relname, k.conname from pg_constraint k join pg_class c on c.oid = k.conrelid"
        " join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = %s and k.contype = 'f' and k.confrelid = 'raw.load_batches'::regclass"
        " and (%s::text is null or c.relname = %s)",
        [RAW, table, table],
    ).fetchall()
    for name, key in keys:
        conn.execute(
            sql.SQL("alter table {} drop constraint {}").format(sql.Identifier(RAW, name), sql.Identifier(key))
        )


def ensure_raw_schema(conn: psycopg.Connection) -> None:
    """The ledger and one raw table for every contract, whether or not any export of it exists.

    A company without a help desk, or without subscriptions, has no such files: its raw tables are empty,
    staging reads zero rows, and the marts that need them build empty instead of failing on a missing relation.
    """
    with conn.transaction():
        ensure_ledger(conn)
        existing = _raw_columns(conn)
        _drop_batch_foreign_keys(conn)
        for contract in sources.contracts().values():
            ensure_table(conn, contract, existing.get(contract.table, set()))
