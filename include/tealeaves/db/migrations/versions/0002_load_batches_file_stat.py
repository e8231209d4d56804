"""The ledger keeps each loaded file's stat, so that an unchanged export is not read again to be recognised.

Revision 0002, after 0001. Applied by `tealeaves db start` and before any load, gate, alert or fit writes
(tealeaves.db.migrate); write it so a warehouse at the previous revision, with rows, reaches this one without
losing any (docs/database.md).

A company's export folder keeps every day's files, and every load hashed each of them whole to find it already
loaded: at 100,000 customers × 24 months the day's billing load spent 4.9 s, most of it reading the earlier days'
gigabytes. `file_stat` is what the file system said of the file when its load began (device, inode, size,
modification and change times in nanoseconds); load_paths skips a file whose path and stat match a loaded batch's
without reading it (tealeaves.load.loader). Lines loaded before this revision have none, and their files are
hashed once more, as before.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # if not exists: a warehouse adopted by the baseline may have been made by code that had it already
    op.execute("alter table raw.load_batches add column if not exists file_stat text")
    op.execute(
        "comment on column raw.load_batches.file_stat is"
        " 'device:inode:size:mtime_ns:ctime_ns of the file when its load began; null before revision 0002, and for"
        " a file changed under two seconds before its load'"
    )


def downgrade() -> None:
    raise NotImplementedError("restore from a backup: revisions go forward only")
