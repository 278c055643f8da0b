"""Engines, schema versions and migrations for SQLite and Postgres."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url

from bot.config import ConfigError, DatabaseUnreachable
from bot.store.connect import POSTGRES_CONNECT_ARGS, POSTGRES_WRITE_TIMEOUTS, sqlite_connect

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where it is used: only `migrate` and the start-up check need it, and
# the terminal's commands start faster without it.

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


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
    def _on_begin(connection: Any) -> None:
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
    def _on_begin(connection: Any) -> None:
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
    return config


def head_revision() -> str:
    """The newest migration in this version of the code."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema to head; safe to run again. Returns (before, after)."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    config = alembic_config()
    # A migration may rewrite a large table: no statement timeout for it.
    options = {"write": True, "migration": True}
    with engine.connect().execution_options(**options) as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it and dropping the old one; with foreign
            # keys enforced, that drop would cascade to the rows that point at it (an
            # incident's queued alerts). The pragma only works outside a transaction.
            _foreign_keys(connection, on=False)
        try:
            with connection.begin():
                if not sqlite:
                    # Two release phases at once must not both migrate.
                    connection.execute(text("SELECT pg_advisory_xact_lock(7311400001)"))
                before = MigrationContext.configure(connection).get_current_revision()
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        finally:
            if sqlite:
                _foreign_keys(connection, on=True)
    return before, head_revision()


def _foreign_keys(connection: Connection, *, on: bool) -> None:
    """Turn SQLite's foreign-key enforcement on or off for this connection."""
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def require_migrated(engine: Engine) -> None:
    """Stop with a clear message when the database is unreachable (DatabaseUnreachable), or
    the schema is missing or behind the code (ConfigError)."""
    try:
        current = current_revision(engine)
    except Exception as exc:
        raise DatabaseUnreachable(
            f"Cannot reach the database at {display_url(engine.url)}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}\nCheck DATABASE_URL."
        ) from None
    head = head_revision()
    if current != head:
        state = "has no schema yet" if current is None else f"is at schema {current}"
        raise ConfigError(
            f"The database {display_url(engine.url)} {state}; this version needs {head}.\n"
            "Run `iak-bot migrate` first (on Heroku the release phase runs it)."
        )


def display_url(url: URL | str) -> str:
    """The database URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)
