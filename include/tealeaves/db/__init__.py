"""The warehouse's PostgreSQL: the embedded server and the databases tealeaves needs on any server."""

from tealeaves.db.embedded import EmbeddedPostgres, ServerError
from tealeaves.db.setup import connect, ensure_databases

__all__ = ["EmbeddedPostgres", "ServerError", "connect", "ensure_databases"]
