"""A transaction's time: when it happened (the backend's created_at when known, else when
the bot first heard of it), which the monitor, /iak stats and /iak pending judge it by.
The indexes that served "since T" questions on first_seen_at and final_at now serve them
on started_at.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

transactions = sa.table(
    "transactions",
    sa.column("created_at", UTCDateTime()),
    sa.column("first_seen_at", UTCDateTime()),
    sa.column("started_at", UTCDateTime()),
)


def upgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("started_at", UTCDateTime()))
    op.get_bind().execute(
        sa.update(transactions).values(
            started_at=sa.func.coalesce(transactions.c.created_at, transactions.c.first_seen_at)
        )
    )
    with op.batch_alter_table("transactions") as batch:
        batch.alter_column("started_at", existing_type=UTCDateTime(), nullable=False)
        batch.drop_index("ix_transactions_outcome_first_seen_at")
        batch.drop_index("ix_transactions_outcome_final_at_rc")
        batch.drop_index("ix_transactions_outcome_next_check_at_first_seen_at")
        batch.drop_index("ix_transactions_outcome_incident_id_first_seen_at")
        batch.create_index("ix_transactions_outcome_started_at_rc", ["outcome", "started_at", "rc"])
        batch.create_index(
            "ix_transactions_outcome_next_check_at_started_at",
            ["outcome", "next_check_at", "started_at"],
        )
        batch.create_index(
            "ix_transactions_outcome_incident_id_started_at",
            ["outcome", "incident_id", "started_at"],
        )


def downgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.drop_index("ix_transactions_outcome_incident_id_started_at")
        batch.drop_index("ix_transactions_outcome_next_check_at_started_at")
        batch.drop_index("ix_transactions_outcome_started_at_rc")
        batch.create_index(
            "ix_transactions_outcome_incident_id_first_seen_at",
            ["outcome", "incident_id", "first_seen_at"],
        )
        batch.create_index(
            "ix_transactions_outcome_next_check_at_first_seen_at",
            ["outcome", "next_check_at", "first_seen_at"],
        )
        batch.create_index("ix_transactions_outcome_final_at_rc", ["outcome", "final_at", "rc"])
        batch.create_index("ix_transactions_outcome_first_seen_at", ["outcome", "first_seen_at"])
        batch.drop_column("started_at")
