"""Databases for tests: a migrated SQLite file per test, and a fresh Postgres schema per test
when TEST_DATABASE_URL points at a server (CI sets it to the machine's Postgres)."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.config import Settings
from bot.store.db import create_db_engine, migrate

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()


def migrated_sqlite_template(directory: Path) -> Path:
    """A SQLite file at the current schema, to copy for each test (migrating is slower)."""
    path = directory / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    migrate(engine)
    # Closing the last connection checkpoints the WAL into the file itself.
    engine.dispose()
    assert not path.with_name(path.name + "-wal").exists()
    return path


def sqlite_copy(template: Path, directory: Path) -> str:
    """A fresh migrated SQLite database in `directory`; returns its DATABASE_URL."""
    path = directory / "iak_bot.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@cache
def postgres_base_url() -> str:
    """TEST_DATABASE_URL in SQLAlchemy's spelling; under pytest-xdist, a database of this
    worker's own beside it (`test_gw0`), made on first use.

    CREATE INDEX CONCURRENTLY, which migrations run, waits for every older transaction of
    its database, whatever the schema: in one shared database, a migration of one worker
    waited for another worker's test that holds a lock for seconds on purpose, past the
    migration's lock timeout. Waits never cross databases."""
    url = make_url(Settings(_env_file=None, database_url=TEST_DATABASE_URL).database_url)  # type: ignore[call-arg]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker:
        return url.render_as_string(hide_password=False)
    name = f"{url.database}_{worker}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            found = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not found:
                with suppress(ProgrammingError):  # another run made it meanwhile
                    connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


# The statements the first migration of this process ran, to run again for later schemas
# in one round trip: Alembic's eighty-odd statements one by one took 100 to 300 ms a test.
_migration_script: str | None = None


def migrate_schema(url: str) -> None:
    """Migrate an empty Postgres schema: the first time with Alembic, recording the
    statements that change the schema; then by running that record at once."""
    global _migration_script
    engine = create_db_engine(url)
    try:
        if _migration_script is not None:
            with engine.begin() as connection:
                connection.exec_driver_sql(_migration_script)
            return
        ran: list[str] = []

        def record(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
            # Reads (and the advisory lock) change nothing, nor do the data migrations (the
            # statements with parameters) on an empty schema. What is left is the DDL and
            # Alembic's version row, whose value is written into its statement.
            if not parameters and not statement.lstrip().upper().startswith("SELECT"):
                # The record is replayed in one transaction, where an index cannot be built
                # CONCURRENTLY (bot.store.online_ddl); on an empty schema it need not be.
                ran.append(statement.strip().rstrip(";").replace(" CONCURRENTLY ", " "))

        event.listen(engine, "before_cursor_execute", record)
        migrate(engine)
        _migration_script = ";\n".join(ran)
    finally:
        engine.dispose()


@contextmanager
def postgres_schema(*, migrated: bool = True) -> Iterator[str]:
    """A throwaway schema on the test Postgres; yields a DATABASE_URL that uses only it."""
    base = postgres_base_url()
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    try:
        if migrated:
            migrate_schema(rendered)
        yield rendered
    finally:
        # A bot of the test may still be running (fixtures stop in reverse order) and its
        # monitor querying: Postgres may then pick the DROP as a deadlock victim. Retry.
        for attempt in range(20):
            try:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                break
            except OperationalError as exc:
                if getattr(exc.orig, "sqlstate", None) != "40P01" or attempt == 19:
                    raise
                time.sleep(0.1)
        admin.dispose()
