"""Retention's bookmark: how far the history's customer numbers and serials are blanked,
and the last run (bot.store.retention). A new table: nothing older reads or writes it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("blanked_through", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("last_run_at", UTCDateTime()),
        sa.Column("last_run_deleted", sa.BigInteger()),
        sa.Column("last_run_blanked", sa.BigInteger()),
        sa.PrimaryKeyConstraint("name", name="pk_retention"),
    )


def downgrade() -> None:
    op.drop_table("retention")
