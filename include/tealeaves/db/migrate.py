"""The warehouse's own tables, in one place: Alembic revisions in `db/migrations/versions/`, applied from code.

The ledger (`raw.load_batches`, `raw.rejected_rows`), the quality store, the alert state, the publication log
and the LTV store are made and changed only by revisions, never by a `create table if not exists` where they are
used. Every entry point that writes them calls `ensure_current` first: when the warehouse is at the newest
revision that costs two catalogue queries; otherwise it upgrades, once, under an advisory lock, so two Airflow
tasks starting on a new warehouse do not race and the second finds the work done. `tealeaves db start` upgrades
too, so a release's new revisions are applied before anything runs.

The version is kept in `tealeaves.schema_version`, not in Alembic's default `alembic_version` (Airflow's own
metadata uses that name, in its own database). A warehouse made before revisions existed has its tables and no
version table: the baseline adopts it in place (see versions/0001_baseline.py), keeping every row.

The raw tables of the source contracts (`raw.<table>`) are not here: they follow the contracts in
`sources/`, and the loader makes or widens them when it loads (tealeaves.load.ddl).

Add a revision with `python -m tealeaves.db.migrate revision "what it does"` (docs/database.md).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_SCHEMA = "tealeaves"
VERSION_TABLE = "schema_version"
# One upgrade at a time per database: the others wait, then find the version at head and do nothing.
_LOCK = "select pg_advisory_xact_lock(hashtext('tealeaves.migrations'))"

log = logging.getLogger(__name__)

Target = str | psycopg.Connection


def alembic_config(connection: object | None = None) -> Config:
    """Alembic's configuration, made in code (no alembic.ini): the scripts here, the connection to use."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


@cache
def head() -> str:
    """The newest revision; one line of history, so a second head is a mistake in versions/."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"{MIGRATIONS / 'versions'}: expected one head revision, found {sorted(heads)}")
    return heads[0]


def current(conn: psycopg.Connection) -> str | None:
    """The warehouse's revision, or None when it has no version table (new, or made before revisions)."""
    if conn.execute("select to_regclass(%s)", [f"{VERSION_SCHEMA}.{VERSION_TABLE}"]).fetchone()[0] is None:
        return None
    rows = conn.execute(f"select version_num from {VERSION_SCHEMA}.{VERSION_TABLE}").fetchall()
    return rows[0][0] if len(rows) == 1 else None


def ensure_current(target: Target) -> None:
    """Upgrade the warehouse to the newest revision unless it is there already.

    `target` is a URL (libpq or SQLAlchemy form) or an open connection. A connection is only read from and left
    as it was found; the upgrade runs on a connection of its own with the same parameters. Call it before opening
    the transaction that writes: one that holds locks on these tables could make the upgrade wait on it.
    """
    if isinstance(target, str):
        with psycopg.connect(_libpq_url(target), autocommit=True, connect_timeout=10) as conn:
            if current(conn) != head():
                upgrade(_connector(conn))
        return
    idle = target.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    found = current(target)
    if idle and not target.autocommit:
        target.rollback()  # end the transaction the check opened: the caller's next one starts afresh
    if found != head():
        upgrade(_connector(target))


def upgrade(connect: Callable[[], psycopg.Connection] | str, to: str | None = None) -> tuple[str | None, str]:
    """Apply every revision the warehouse lacks, in one transaction under the migrations lock; up to revision `to`
    only when given (a test of one revision, from the one before it).

    Returns (revision before, revision after). PostgreSQL's DDL is transactional: a revision that fails leaves
    the warehouse as it was.
    """
    target = to or head()
    if isinstance(connect, str):
        url = _libpq_url(connect)

        def connect() -> psycopg.Connection:
            return psycopg.connect(url, connect_timeout=10)

    engine = create_engine("postgresql+psycopg://", creator=connect, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(text(_LOCK))
            connection.execute(text(f"create schema if not exists {VERSION_SCHEMA}"))
            before = _version_in(connection)
            if before is not None and not _known(before):
                raise RuntimeError(
                    f"the warehouse's tables are at revision {before}, which this tealeaves does not know (its newest"
                    f" is {head()}): a newer release upgraded them; run that release"
                )
            if before != target:
                if before is None and _made_before_revisions(connection):
                    log.info("warehouse tables made before versioned migrations: adopting them at %s", target)
                command.upgrade(alembic_config(connection), target)
            after = _version_in(connection)
    finally:
        engine.dispose()
    if before != after:
        log.info("warehouse schema upgraded from %s to %s", before or "nothing", after)
    return before, after or ""


def _version_in(connection) -> str | None:
    found = connection.execute(
        text("select to_regclass(:name) is not null"), {"name": f"{VERSION_SCHEMA}.{VERSION_TABLE}"}
    ).scalar()
    if not found:
        return None
    rows = connection.execute(text(f"select version_num from {VERSION_SCHEMA}.{VERSION_TABLE}")).all()
    return rows[0][0] if len(rows) == 1 else None


def _known(revision: str) -> bool:
    return revision in {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _made_before_revisions(connection) -> bool:
    """Any of the tables the code before revisions made at runtime: the baseline then adopts them in place."""
    return bool(
        connection.execute(
            text(
                "select exists (select from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                " where (n.nspname, c.relname) in (('raw', 'load_batches'), ('quality', 'validation_runs'),"
                " ('quality', 'alert_state'), ('quality', 'publications'), ('ltv', 'model_fits')))"
            )
        ).scalar()
    )


def _connector(conn: psycopg.Connection) -> Callable[[], psycopg.Connection]:
    """A new connection with `conn`'s parameters (its DSN leaves the password out; libpq still knows it)."""
    dsn, password = conn.info.dsn, conn.info.password

    def connect() -> psycopg.Connection:
        return psycopg.connect(dsn, password=password) if password else psycopg.connect(dsn)

    return connect


def _libpq_url(url: str) -> str:
    """psycopg wants libpq's postgresql://; drop a SQLAlchemy driver suffix such as +psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def new_revision(message: str) -> Path:
    """Write the next revision's file (numbered after the newest) for a developer to fill in."""
    script = ScriptDirectory.from_config(alembic_config())
    number = max((int(r.revision) for r in script.walk_revisions() if r.revision.isdigit()), default=0) + 1
    created = command.revision(alembic_config(), message=message, rev_id=f"{number:04d}")
    head.cache_clear()
    return Path(created.path)  # type: ignore[union-attr]


def main(argv: list[str]) -> int:
    """`python -m tealeaves.db.migrate revision "message"`: a new revision file (applying is `tealeaves db start`)."""
    if len(argv) != 2 or argv[0] != "revision":
        print('usage: python -m tealeaves.db.migrate revision "what the revision does"', file=sys.stderr)
        return 2
    new_revision(argv[1])  # Alembic prints the file it wrote
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
