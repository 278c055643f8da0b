"""Engines, schema versions and migrations for SQLite and Postgres."""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url

from bot.config import ConfigError, DatabaseUnreachable
from bot.store.connect import POSTGRES_CONNECT_ARGS, POSTGRES_WRITE_TIMEOUTS, sqlite_connect

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy.exc import OperationalError

# Alembic is imported where it is used: only `migrate` and the start-up check need it, and
# the terminal's commands start faster without it.

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")

# A migration that waits longer than this for a table's lock gives up (and the release
# phase with it) rather than queue every callback behind its wait; run it again later.
MIGRATION_LOCK_TIMEOUT_SECONDS = 5.0
# Two release phases at once must not both migrate (a session lock: Postgres runs each
# migration in a transaction of its own).
_MIGRATION_LOCK = 7311400001
MIGRATION_LOCK_POLL_SECONDS = 0.1


def create_db_engine(url: str) -> Engine:
    """An engine for DATABASE_URL: SQLite in WAL mode, or Postgres with a checked pool."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return _postgres_engine(parsed)


def _postgres_engine(url: URL) -> Engine:
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=5,
        pool_timeout=5,
        # A restarted Postgres leaves dead connections in the pool; ping before use.
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args=POSTGRES_CONNECT_ARGS,
        # A failed statement's exception (logged, sent to Sentry) shows its SQL, never
        # its values: customer numbers, serials, IAK's payloads.
        hide_parameters=True,
    )

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Writes (callbacks, the monitor's tick, the buttons) give up on a stalled statement
        # or a held lock instead of waiting on it. Set per transaction (SET LOCAL), so the
        # session keeps no state a transaction-mode pooler would have to carry.
        options = connection.get_execution_options()
        if options.get("write") and not options.get("migration"):
            connection.exec_driver_sql(POSTGRES_WRITE_TIMEOUTS)

    return engine


def _sqlite_engine(url: URL) -> Engine:
    path = url.database or ":memory:"
    # hide_parameters: as for Postgres, errors show the SQL without its values
    engine = create_engine(url, creator=lambda: sqlite_connect(path), hide_parameters=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A writer takes the write lock up front: a transaction that reads then writes
        # cannot fail halfway with SQLITE_BUSY because another process wrote meanwhile.
        if connection.get_execution_options().get("write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["lock_timeout_ms"] = round(MIGRATION_LOCK_TIMEOUT_SECONDS * 1000)
    return config


@cache
def _scripts() -> ScriptDirectory:
    """This version's migrations (read once: they do not change while the process runs)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest migration in this version of the code."""
    head = _scripts().get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


class SchemaState(Enum):
    """Where a database's schema stands against this version of the code."""

    MISSING = "missing"
    BEHIND = "behind"
    CURRENT = "current"
    # at a revision this code does not know: a later release migrated it, and this one was
    # rolled back to. Migrations only add (nullable or defaulted columns, tables, indexes),
    # so this code runs on it.
    AHEAD = "ahead"


def schema_state(revision: str | None) -> SchemaState:
    """How the database's `revision` compares with this code's newest migration."""
    from alembic.util import CommandError

    if revision is None:
        return SchemaState.MISSING
    if revision == head_revision():
        return SchemaState.CURRENT
    try:
        _scripts().get_revision(revision)
    except CommandError:  # "Can't locate revision"
        return SchemaState.AHEAD
    return SchemaState.BEHIND


@dataclass(frozen=True)
class Migration:
    """What `migrate` found and left: the revision before and after, and whether the
    database was ahead of this code (then nothing was changed)."""

    before: str | None
    after: str
    ahead: bool = False


class MigrationLockTimeout(Exception):
    """A migration waited too long for a table's lock (the tables are busy)."""


def migrate(
    engine: Engine,
    *,
    lock_timeout: float = MIGRATION_LOCK_TIMEOUT_SECONDS,
    to: str = "head",
) -> Migration:
    """Create or upgrade the schema to head (or to the revision `to`: the tests that walk
    the migrations one by one); safe to run again. A database ahead of this code (a
    rollback) is left as it is. On Postgres each migration runs in a transaction of its
    own, and its statements wait at most `lock_timeout` seconds for any lock (those of
    `online_ddl`, outside a transaction, too)."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.exc import OperationalError

    config = alembic_config()
    config.attributes["lock_timeout_ms"] = round(lock_timeout * 1000)
    # A migration may rewrite a large table: no statement timeout for it.
    options = {"write": True, "migration": True}
    with engine.connect().execution_options(**options) as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it and dropping the old one; with foreign
            # keys enforced, that drop would cascade to the rows that point at it (an
            # incident's queued alerts). The pragma only works outside a transaction.
            _foreign_keys(connection, on=False)
        else:
            _lock(connection)
        try:
            # SQLite keeps every migration in one transaction (its write lock serialises two
            # `migrate`s); Postgres lets Alembic open one per migration, so that a migration
            # holds its locks only while it runs and an index can be built CONCURRENTLY.
            with connection.begin() if sqlite else nullcontext():
                before = MigrationContext.configure(connection).get_current_revision()
                if schema_state(before) is SchemaState.AHEAD:
                    assert before is not None
                    return Migration(before, before, ahead=True)
                if not sqlite:
                    connection.commit()
                config.attributes["connection"] = connection
                try:
                    command.upgrade(config, to)
                except OperationalError as exc:
                    if _is_lock_timeout(exc):
                        raise MigrationLockTimeout(str(exc.orig).strip().splitlines()[0]) from None
                    raise
        finally:
            if sqlite:
                _foreign_keys(connection, on=True)
            else:
                _unlock(connection)
    return Migration(before, head_revision() if to == "head" else to)


def _lock(connection: Connection) -> None:
    """Take the migration lock, asking again every MIGRATION_LOCK_POLL_SECONDS rather than
    waiting inside one statement: a statement waiting holds a snapshot, and the other
    `migrate`'s CREATE INDEX CONCURRENTLY waits for every older snapshot in the database,
    its own lock's waiter's too (a deadlock). Between two asks this one holds none."""
    while True:
        taken = connection.scalar(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": _MIGRATION_LOCK}
        )
        connection.commit()
        if taken:
            return
        time.sleep(MIGRATION_LOCK_POLL_SECONDS)


def _unlock(connection: Connection) -> None:
    """Release the migration lock (a dead connection has released it already)."""
    from sqlalchemy.exc import DBAPIError

    try:
        connection.rollback()
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
        connection.commit()
    except DBAPIError:
        log.warning("could not release the migration lock; it ends with the session")


def _is_lock_timeout(exc: OperationalError) -> bool:
    """Postgres's "canceling statement due to lock timeout" (SQLSTATE 55P03)."""
    return getattr(exc.orig, "sqlstate", None) == "55P03"


def _foreign_keys(connection: Connection, *, on: bool) -> None:
    """Turn SQLite's foreign-key enforcement on or off for this connection."""
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def require_migrated(engine: Engine) -> None:
    """Stop with a clear message when the database is unreachable (DatabaseUnreachable), or
    the schema is missing or behind the code (ConfigError). A schema ahead of the code
    (after a rollback) is fine: this release runs on it."""
    try:
        current = current_revision(engine)
    except Exception as exc:
        raise DatabaseUnreachable(
            f"Cannot reach the database at {display_url(engine.url)}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}\nCheck DATABASE_URL."
        ) from None
    head = head_revision()
    state = schema_state(current)
    if state is SchemaState.AHEAD:
        log.warning(
            "the database is at schema %s, newer than this release's %s (a rollback?): "
            "running on it, as releases only add to the schema",
            current,
            head,
        )
    elif state is not SchemaState.CURRENT:
        where = "has no schema yet" if current is None else f"is at schema {current}"
        raise ConfigError(
            f"The database {display_url(engine.url)} {where}; this version needs {head}.\n"
            "Run `iak-bot migrate` first (on Heroku the release phase runs it)."
        )


def display_url(url: URL | str) -> str:
    """The database URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)
