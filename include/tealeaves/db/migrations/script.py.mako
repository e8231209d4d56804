"""${message}

Revision ${up_revision}, after ${down_revision | comma,n}. Applied by `tealeaves db start` and before any load,
gate, alert or fit writes (tealeaves.db.migrate); write it so a warehouse at the previous revision, with rows,
reaches this one without losing any (docs/database.md).
"""

from __future__ import annotations

from alembic import op

revision = "${up_revision}"
down_revision = "${down_revision}"
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else 'op.execute("")  # the SQL of this revision'}


def downgrade() -> None:
    ${downgrades if downgrades else 'raise NotImplementedError("restore from a backup: revisions go forward only")'}
