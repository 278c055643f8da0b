"""An index on transaction_keys by ref_id: deleting a transaction (retention deletes a day
of them a batch at a time) deletes its keys through the foreign key's cascade, by ref_id.
The primary key starts with the key, so without this index each deleted transaction read
the whole keys table, and at a large reseller's size retention's batches ran into the
statement timeout.

On Postgres the index is built CONCURRENTLY (`bot.store.online_ddl`): callbacks keep
writing their keys while it builds.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from bot.store.online_ddl import create_index_concurrently, drop_index_concurrently

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

INDEX = "ix_transaction_keys_ref_id"


def upgrade() -> None:
    create_index_concurrently(INDEX, "transaction_keys", ["ref_id"])


def downgrade() -> None:
    drop_index_concurrently(INDEX, "transaction_keys")
