"""Fixtures the monitor's tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.store.database import Database


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """The store on a migrated, empty database (SQLite, and Postgres when configured)."""
    db = Database(database_url)
    yield db
    db.close()
