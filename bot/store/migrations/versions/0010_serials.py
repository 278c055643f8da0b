"""A success's serial number as compared with others' (the token of a PLN `sn`; none for a
placeholder), indexed, so the monitor finds the same voucher or token delivered twice
without reading every transaction.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.states import serial_key

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SN_LENGTH = 500
CHUNK = 2000

transactions = sa.table(
    "transactions",
    sa.column("ref_id", sa.String()),
    sa.column("outcome", sa.String()),
    sa.column("product_code", sa.String()),
    sa.column("sn", sa.String()),
    sa.column("serial", sa.String()),
    sa.column("line", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("serial", sa.String(SN_LENGTH)))
    _fill()
    where = sa.text("serial IS NOT NULL")
    op.create_index(
        "ix_transactions_serial",
        "transactions",
        ["serial"],
        sqlite_where=where,
        postgresql_where=where,
    )
    op.create_index(
        "ix_transactions_final_at_serial",
        "transactions",
        ["final_at", "serial"],
        sqlite_where=where,
        postgresql_where=where,
    )


def _fill() -> None:
    """The serial of every success stored so far, a chunk at a time, in ref_id order."""
    bind = op.get_bind()
    t = transactions.c
    after = ""
    while True:
        rows = bind.execute(
            sa.select(t.ref_id, t.product_code, t.sn)
            .where(
                t.outcome == "success",
                t.line == "prepaid",  # a bill's sn is the biller's payment reference
                t.sn.is_not(None),
                t.ref_id > after,
            )
            .order_by(t.ref_id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        keyed = [{"key": row.ref_id, "value": serial_key(row.sn, row.product_code)} for row in rows]
        keyed = [row for row in keyed if row["value"] is not None]
        if keyed:
            bind.execute(
                sa.update(transactions)
                .where(t.ref_id == sa.bindparam("key"))
                .values(serial=sa.bindparam("value")),
                keyed,
            )
        after = rows[-1].ref_id


def downgrade() -> None:
    op.drop_index("ix_transactions_final_at_serial", "transactions")
    op.drop_index("ix_transactions_serial", "transactions")
    with op.batch_alter_table("transactions") as batch:
        batch.drop_column("serial")
