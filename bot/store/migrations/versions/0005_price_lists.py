"""IAK's price lists, cached for `/iak product` and shared by every process.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "price_lists",
        sa.Column("line", sa.String(8), nullable=False),
        sa.Column("base_url", sa.String(300), nullable=False),
        sa.Column("fetched_at", UTCDateTime()),
        sa.Column("products", sa.JSON()),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
        sa.Column("error", sa.String(300)),
        sa.PrimaryKeyConstraint("line", "base_url", name="pk_price_lists"),
    )


def downgrade() -> None:
    op.drop_table("price_lists")
