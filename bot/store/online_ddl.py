"""Schema changes made while the bot serves, for migrations.

A plain CREATE INDEX holds a lock that blocks every write to its table for as long as the
build runs: on `transactions` or `transaction_events` with millions of rows, minutes in
which every callback waits. On Postgres these build the index CONCURRENTLY (writes go on),
which must run outside a transaction: the migration's transaction is committed first, so
put these last in a migration, or in a migration of their own. SQLite has no such option
(and its installations are small): there they are the usual statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alembic import op
from sqlalchemy import text


def create_index_concurrently(
    name: str, table: str, columns: Sequence[str], **options: Any
) -> None:
    """`op.create_index`, without blocking writes on Postgres. Safe to run again after a
    failed attempt: a build that was interrupted leaves an invalid index, dropped first."""
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(name, table, list(columns), **options)
        return
    with op.get_context().autocommit_block():
        valid = op.get_bind().scalar(
            text(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace"
            ),
            {"name": name},
        )
        if valid:
            return
        if valid is not None:
            op.drop_index(name, table_name=table, postgresql_concurrently=True)
        op.create_index(name, table, list(columns), postgresql_concurrently=True, **options)


def drop_index_concurrently(name: str, table: str) -> None:
    """`op.drop_index`, without blocking reads and writes on Postgres while it waits."""
    if op.get_bind().dialect.name != "postgresql":
        op.drop_index(name, table_name=table)
        return
    with op.get_context().autocommit_block():
        op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
