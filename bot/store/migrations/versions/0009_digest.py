"""The daily digest: at most one per WIB day, whichever process records it and however
often it restarts. Digests are rows of `incidents` (kind `digest`, key the day) so they go
out through the same outbox as alerts; this index is what makes a second one impossible.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "uq_incidents_digest_day",
        "incidents",
        ["key"],
        unique=True,
        sqlite_where=sa.text("kind = 'digest'"),
        postgresql_where=sa.text("kind = 'digest'"),
    )


def downgrade() -> None:
    op.drop_index("uq_incidents_digest_day", table_name="incidents")
