"""Postpaid bills beside prepaid top-ups: each transaction says which line it is on, since
its rc is from that line's table (postpaid 06 is not prepaid 06). Failures are counted per
line and rc, so the covering index that answers "failures per rc since T" carries the line.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("line", sa.String(8), nullable=False, server_default="prepaid"))
        batch.drop_index("ix_transactions_outcome_started_at_rc")
        batch.create_index(
            "ix_transactions_outcome_started_at_rc_line", ["outcome", "started_at", "rc", "line"]
        )


def downgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.drop_index("ix_transactions_outcome_started_at_rc_line")
        batch.create_index("ix_transactions_outcome_started_at_rc", ["outcome", "started_at", "rc"])
        batch.drop_column("line")
