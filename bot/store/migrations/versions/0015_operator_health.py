"""Operator health: the covering index that answers "failures per line and rc since T" also
carries the product and when each transaction became final, so an operator's window and
each hour of its usual (final transactions per product, outcome, rc and time to final) are
read from the index alone, at no extra index to write.

On Postgres the index is built CONCURRENTLY (`bot.store.online_ddl`): callbacks keep
writing to `transactions` while it builds. The narrow index is dropped only once the wide
one is valid.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from bot.store.online_ddl import create_index_concurrently, drop_index_concurrently

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

NARROW = ("ix_transactions_outcome_started_at_rc_line", ["outcome", "started_at", "rc", "line"])
WIDE = (
    "ix_transactions_outcome_started_at_covering",
    ["outcome", "started_at", "rc", "line", "product_code", "final_at"],
)


def upgrade() -> None:
    create_index_concurrently(WIDE[0], "transactions", WIDE[1])
    drop_index_concurrently(NARROW[0], "transactions")


def downgrade() -> None:
    create_index_concurrently(NARROW[0], "transactions", NARROW[1])
    drop_index_concurrently(WIDE[0], "transactions")
