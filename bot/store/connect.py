"""How the bot connects to each database, in one place for the SQLAlchemy engine and for the
store's writer process (which loads nothing heavier than the database driver).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.shapes import Json

# How long one statement, or a wait for a lock, may take before the database gives up:
# well inside the time a request waits for its write (bot.store.writer.WRITE_DEADLINE),
# so a stalled or locked database answers "try again" rather than hold callbacks.
STATEMENT_TIMEOUT_MS = 5_000
LOCK_TIMEOUT_MS = 3_000
SQLITE_BUSY_TIMEOUT_MS = LOCK_TIMEOUT_MS

# Run at the start of each Postgres write transaction. SET LOCAL lasts the transaction
# only, so the session keeps no state a transaction-mode pooler would have to carry.
POSTGRES_WRITE_TIMEOUTS = (
    f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}; "
    f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}"
)

POSTGRES_CONNECT_ARGS: Json = {
    "connect_timeout": 5,
    "application_name": "iak-bot",
    # No server-side prepared statements. psycopg prepares a statement after its fifth
    # run, and Postgres then keeps a generic plan made for the table as it was: on a new,
    # small table, a sequential scan, used for as long as the connection lives while the
    # table grows (until ANALYZE, which autovacuum may not run for a long while). Planned
    # each time, every statement follows the table as it is (benchmarks/RESULTS.md has the
    # figures). Prepared statements are also what a transaction-mode pooler (PgBouncer,
    # Heroku's connection pooling) trips on; without them the bot holds no session state.
    "prepare_threshold": None,
    # A connection whose server stopped answering is noticed, not waited on forever.
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}


def sqlite_connect(path: str) -> sqlite3.Connection:
    """A connection to a SQLite file as every part of the bot uses it: WAL, durable commits,
    and the bot (not the sqlite3 module) deciding when a transaction begins."""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(
        path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None
    )
    # WAL: the web server and the monitor can read while one of them writes.
    connection.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before the caller hears "stored" (callbacks get 200).
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    connection.execute("PRAGMA foreign_keys=ON")
    return connection
