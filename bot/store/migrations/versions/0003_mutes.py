"""Mutes that outlive one incident: "mute this rc" for its future incidents.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mutes",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.Column("muted_by", sa.String(32)),
        sa.PrimaryKeyConstraint("kind", "key", name="pk_mutes"),
    )


def downgrade() -> None:
    op.drop_table("mutes")
