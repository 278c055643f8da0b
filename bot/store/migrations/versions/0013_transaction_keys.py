"""The keys `/iak find` looks transactions up by (a customer number in one spelling, a
serial's token digits last first, a tr_id; bot.store.search_keys), in a table of their own
with one index: no column, lock or index build on `transactions`.

The keys of the transactions stored so far are filled here, a chunk at a time in ref_id
order: reading `transactions` and inserting into the new table locks no transaction row, so
callbacks go on meanwhile. A transaction that code from before this revision stores later
(during a rolling release, or after a rollback) gets its keys the next time it changes.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.search_keys import transaction_keys

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

REF_ID_LENGTH = 100
KEY_LENGTH = 502
CHUNK = 5000

transactions = sa.table(
    "transactions",
    sa.column("ref_id", sa.String()),
    sa.column("customer_id", sa.String()),
    sa.column("tr_id", sa.String()),
    sa.column("sn", sa.String()),
)
keys = sa.table("transaction_keys", sa.column("key", sa.String()), sa.column("ref_id", sa.String()))


def upgrade() -> None:
    op.create_table(
        "transaction_keys",
        sa.Column(
            "key",
            sa.String(KEY_LENGTH).with_variant(sa.String(KEY_LENGTH, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("ref_id", sa.String(REF_ID_LENGTH), nullable=False),
        sa.ForeignKeyConstraint(
            ["ref_id"],
            ["transactions.ref_id"],
            name="fk_transaction_keys_ref_id_transactions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "ref_id", name="pk_transaction_keys"),
    )
    _fill()


def _fill() -> None:
    """The keys of every transaction stored so far, a chunk at a time."""
    bind = op.get_bind()
    t = transactions.c
    after = ""
    while True:
        rows = bind.execute(
            sa.select(t.ref_id, t.customer_id, t.tr_id, t.sn)
            .where(t.ref_id > after)
            .order_by(t.ref_id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        found = [
            {"key": key, "ref_id": row.ref_id}
            for row in rows
            for key in sorted(transaction_keys(row.customer_id, row.tr_id, row.sn))
        ]
        if found:
            bind.execute(sa.insert(keys), found)
        after = rows[-1].ref_id


def downgrade() -> None:
    op.drop_table("transaction_keys")
