"""Alembic's entry point for the warehouse's revisions; run through tealeaves.db.migrate, which passes the
connection (already in its transaction, holding the migrations lock) in the config's attributes."""

from __future__ import annotations

from alembic import context

from tealeaves.db.migrate import VERSION_SCHEMA, VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("the warehouse's revisions are applied by `tealeaves db start` (tealeaves.db.migrate.upgrade)")

context.configure(
    connection=connection,
    target_metadata=None,  # revisions are written by hand, in SQL: there are no models to compare with
    version_table=VERSION_TABLE,
    version_table_schema=VERSION_SCHEMA,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
