"""Alembic environment: migrations run on the connection `bot.store.db.migrate` hands over.

On Postgres each migration runs in a transaction of its own, which first sets a lock
timeout: an ALTER TABLE queued behind a long read would otherwise hold every callback
behind it for as long as it waits. An index built CONCURRENTLY (bot.store.online_ddl)
runs outside any transaction, where SET LOCAL does not reach: online_ddl sets the same
timeout on the session for those statements (`lock_timeout_ms`, below) and resets it after.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, event

from bot.store.schema import metadata

connection = context.config.attributes["connection"]
postgres = connection.dialect.name == "postgresql"
lock_timeout_ms = int(context.config.attributes["lock_timeout_ms"])


def _set_lock_timeout(conn: Connection) -> None:
    if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {lock_timeout_ms}")


context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters tables by copying them; batch mode does that for us.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    transaction_per_migration=postgres,
)
if postgres:
    event.listen(connection, "begin", _set_lock_timeout)
try:
    with context.begin_transaction():
        context.run_migrations()
finally:
    if postgres:
        event.remove(connection, "begin", _set_lock_timeout)
