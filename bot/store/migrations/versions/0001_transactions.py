"""Transactions and their append-only history of observations.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "transactions",
        sa.Column("ref_id", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("status", sa.SmallInteger()),
        sa.Column("rc", sa.String(16)),
        sa.Column("product_code", sa.String(100)),
        sa.Column("customer_id", sa.String(100)),
        sa.Column("price", sa.BigInteger()),
        sa.Column("balance", sa.BigInteger()),
        sa.Column("tr_id", sa.String(100)),
        sa.Column("sn", sa.String(500)),
        sa.Column("message", sa.String(500)),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime()),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("final_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("ref_id", name="pk_transactions"),
    )
    op.create_index(
        "ix_transactions_outcome_first_seen_at", "transactions", ["outcome", "first_seen_at"]
    )
    op.create_index(
        "ix_transactions_outcome_final_at_rc", "transactions", ["outcome", "final_at", "rc"]
    )
    op.create_table(
        "transaction_events",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("ref_id", sa.String(100), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("observed_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("status", sa.SmallInteger()),
        sa.Column("rc", sa.String(16)),
        sa.Column("balance", sa.BigInteger()),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transaction_events"),
        sa.ForeignKeyConstraint(
            ["ref_id"],
            ["transactions.ref_id"],
            name="fk_transaction_events_ref_id_transactions",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("fingerprint", name="uq_transaction_events_fingerprint"),
    )
    op.create_index("ix_transaction_events_ref_id_id", "transaction_events", ["ref_id", "id"])
    op.create_index("ix_transaction_events_observed_at", "transaction_events", ["observed_at"])


def downgrade() -> None:
    op.drop_table("transaction_events")
    op.drop_table("transactions")
