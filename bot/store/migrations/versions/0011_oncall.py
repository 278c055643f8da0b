"""Callback health and on-call follow-ups: refused callbacks, counted by every process; the
history's time index also covering where each answer came from and what it said (callback
health counts an hour of them from the index alone, at no extra index to write); and what
an incident's escalation, reminder and mute remember.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("muted_total", sa.BigInteger()))
        batch.add_column(sa.Column("escalated_at", UTCDateTime()))
        batch.add_column(sa.Column("reminded_at", UTCDateTime()))
    op.create_table(
        "callback_refusals",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.Column("address", sa.String(45)),
        sa.Column("detail", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name="pk_callback_refusals"),
    )
    op.create_index("ix_callback_refusals_last_at", "callback_refusals", ["last_at"])
    with op.batch_alter_table("transaction_events") as batch:
        batch.drop_index("ix_transaction_events_observed_at")
        batch.create_index(
            "ix_transaction_events_observed_at_source_applied_outcome_ref_id",
            ["observed_at", "source", "applied", "outcome", "ref_id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("transaction_events") as batch:
        batch.drop_index("ix_transaction_events_observed_at_source_applied_outcome_ref_id")
        batch.create_index("ix_transaction_events_observed_at", ["observed_at"])
    op.drop_index("ix_callback_refusals_last_at", table_name="callback_refusals")
    op.drop_table("callback_refusals")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("reminded_at")
        batch.drop_column("escalated_at")
        batch.drop_column("muted_total")
