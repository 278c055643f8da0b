"""Databases for tests: a migrated SQLite file per test, and a fresh Postgres schema per test
when TEST_DATABASE_URL points at a server (CI sets it to the machine's Postgres)."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

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


def postgres_base_url() -> str:
    """TEST_DATABASE_URL in SQLAlchemy's spelling."""
    return Settings(_env_file=None, database_url=TEST_DATABASE_URL).database_url  # type: ignore[call-arg]


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
            engine = create_db_engine(rendered)
            migrate(engine)
            engine.dispose()
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
