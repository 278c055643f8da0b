"""The monitor: incidents, their outbox of Slack operations, the leader lease, and the
monitor's bookkeeping on transactions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime()),
        sa.Column("channel", sa.String(32)),
        sa.Column("parent_ts", sa.String(32)),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("acknowledged_by", sa.String(32)),
        sa.Column("acknowledged_at", UTCDateTime()),
        sa.Column("muted_until", UTCDateTime()),
        sa.Column("muted_by", sa.String(32)),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index(
        "uq_incidents_open_kind_key",
        "incidents",
        ["kind", "key"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("last_error", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_outbox_incident_id_incidents",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_outbox_state_id", "outbox", ["state", "id"])
    op.create_index("ix_outbox_incident_id_id", "outbox", ["incident_id", "id"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("acquired_at", UTCDateTime(), nullable=False),
        sa.Column("last_tick_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("next_check_at", UTCDateTime()))
        batch.add_column(sa.Column("checks", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("checks_stopped_at", UTCDateTime()))
        batch.add_column(sa.Column("incident_id", sa.BigInteger()))
        batch.add_column(
            sa.Column("announced", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_foreign_key(
            "fk_transactions_incident_id_incidents",
            "incidents",
            ["incident_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(
            "ix_transactions_outcome_next_check_at_first_seen_at",
            ["outcome", "next_check_at", "first_seen_at"],
        )
        batch.create_index(
            "ix_transactions_outcome_incident_id_first_seen_at",
            ["outcome", "incident_id", "first_seen_at"],
        )
        batch.create_index("ix_transactions_incident_id", ["incident_id"])


def downgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.drop_index("ix_transactions_incident_id")
        batch.drop_index("ix_transactions_outcome_incident_id_first_seen_at")
        batch.drop_index("ix_transactions_outcome_next_check_at_first_seen_at")
        batch.drop_constraint("fk_transactions_incident_id_incidents", type_="foreignkey")
        for column in ("announced", "incident_id", "checks_stopped_at", "checks", "next_check_at"):
            batch.drop_column(column)
    op.drop_table("leases")
    op.drop_table("outbox")
    op.drop_index("uq_incidents_open_kind_key", table_name="incidents")
    op.drop_table("incidents")
