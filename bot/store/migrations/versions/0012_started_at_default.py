"""A transaction's started_at defaults to the time it is inserted: 0007 made it NOT NULL
with no default, so code from before 0007 (still serving during a release, or after a
rollback) could not insert a transaction at all. Inserted by that code, a transaction
started when it was first seen, which is what the default says.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.alter_column(
            "started_at",
            existing_type=UTCDateTime(),
            existing_nullable=False,
            server_default=sa.text("CURRENT_TIMESTAMP"),
        )


def downgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.alter_column(
            "started_at", existing_type=UTCDateTime(), existing_nullable=False, server_default=None
        )
