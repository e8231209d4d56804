"""Reading the warehouse from a test: one short-lived connection per query."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg
from psycopg import sql


def query(url: str, text: str | sql.Composable, *params) -> list[tuple]:
    """Every row of one query; without params a literal % in the text needs no escaping."""
    with psycopg.connect(url) as conn:
        return conn.execute(text, params or None).fetchall()


def outcome(url: str, table: str, names: list[str], batch_id: int, last_line: int) -> tuple[list, list]:
    """Each line's loaded values (as text) and each rejected line's text and reason, up to `last_line`: what a
    load path decided for a file's lines, to compare with another path's decision."""
    values = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(n)) for n in names)
    loaded = query(
        url,
        sql.SQL("select _source_line, {} from {} where _batch_id = %s and _source_line <= %s order by 1").format(
            values, sql.Identifier("raw", table)
        ),
        batch_id,
        last_line,
    )
    rejected = query(
        url,
        "select line_number, raw_text, reason from raw.rejected_rows"
        " where batch_id = %s and line_number <= %s order by 1",
        batch_id,
        last_line,
    )
    return loaded, rejected


def load_caught_at_its_lock(url: str, env: dict[str, str], path: Path, table: str):
    """`tealeaves load PATH` started while the caller holds `table`'s load lock: caught mid-load, to be killed.

    Returns the holding connection (in its transaction), the load's process and the load's server pid.
    """
    holder = psycopg.connect(url, autocommit=True)
    holder.execute("begin")
    holder.execute("select pg_advisory_xact_lock(hashtext(%s))", [table])
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "tealeaves"), "load", str(path)],
        env={**env, "TEALEAVES_DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        # a query of its own each time: pg_stat_activity is a snapshot for the rest of a transaction
        waiting = query(
            url,
            "select pid from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()"
            " and pid <> %s",
            holder.info.backend_pid,
        )
        if waiting:
            return holder, process, waiting[0][0]
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    raise AssertionError("the load never reached the lock")


def kill_caught_load(url: str, holder: psycopg.Connection, process: subprocess.Popen) -> None:
    """SIGKILL a load caught at its lock, release the lock, and wait until every server session of the load has ended.

    A server notices a dead client only when it next talks to it: released, the killed load's sessions (the one that
    waited, and the ledger's, which holds its line's queue lock) go on for a moment holding their locks, and a load
    started in that moment rightly takes the line for a live one. The sessions are known by the load's client ports.
    """
    ports = [c.laddr.port for c in psutil.Process(process.pid).net_connections(kind="tcp")]
    assert ports, "the load has no connection to the server"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    holder.execute("rollback")
    holder.close()
    deadline = time.monotonic() + 60
    while query(url, "select from pg_stat_activity where client_port = any(%s)", ports):
        assert time.monotonic() < deadline, "the killed load's server sessions did not end"
        time.sleep(0.1)
