"""Conflicting outcomes: when an answer contradicted a transaction's final outcome, and
incident keys long enough for a ref_id (a conflict's incident is keyed by its ref_id).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("conflict_at", UTCDateTime()))
        batch.create_index(
            "ix_transactions_conflict_at",
            ["conflict_at"],
            sqlite_where=sa.text("conflict_at IS NOT NULL"),
            postgresql_where=sa.text("conflict_at IS NOT NULL"),
        )
    for table in ("incidents", "mutes"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("key", type_=sa.String(100), existing_type=sa.String(32))


def downgrade() -> None:
    for table in ("incidents", "mutes"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("key", type_=sa.String(32), existing_type=sa.String(100))
    with op.batch_alter_table("transactions") as batch:
        batch.drop_index("ix_transactions_conflict_at")
        batch.drop_column("conflict_at")
