"""Schema changes made while the bot serves, for migrations.

A plain CREATE INDEX holds a lock that blocks every write to its table for as long as the
build runs: on `transactions` or `transaction_events` with millions of rows, minutes in
which every callback waits. On Postgres these build the index CONCURRENTLY (writes go on),
which must run outside a transaction: the migration's transaction is committed first, so
put these last in a migration, or in a migration of their own. SQLite has no such option
(and its installations are small): there they are the usual statements.

Outside a transaction the migration's `SET LOCAL lock_timeout` (migrations/env.py) does not
apply, yet a concurrent build or drop still waits for every transaction that holds the
table (a drop, for a long report's read lock too): the session's lock_timeout is set to
the migration's for these statements, and reset after, so that such a wait gives up as
any other migration does (a retry finishes the job: both are safe to run again).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from alembic import op
from sqlalchemy import text


@contextmanager
def _outside_transaction() -> Iterator[None]:
    """Alembic's autocommit block, waiting for locks no longer than the migration would."""
    context = op.get_context()
    config = context.config
    timeout_ms = config.attributes.get("lock_timeout_ms") if config is not None else None
    with context.autocommit_block():
        bind = op.get_bind()
        if timeout_ms is None:
            yield
            return
        bind.exec_driver_sql(f"SET lock_timeout = {int(timeout_ms)}")
        try:
            yield
        finally:
            bind.exec_driver_sql("RESET lock_timeout")


def create_index_concurrently(
    name: str, table: str, columns: Sequence[str], **options: Any
) -> None:
    """`op.create_index`, without blocking writes on Postgres. Safe to run again after a
    failed attempt: a build that was interrupted leaves an invalid index, dropped first."""
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(name, table, list(columns), **options)
        return
    with _outside_transaction():
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
    with _outside_transaction():
        op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
