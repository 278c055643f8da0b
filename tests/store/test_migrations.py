"""`iak-bot migrate` creates and upgrades the schema, idempotently; serve refuses without it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot.config import ConfigError
from bot.store.db import (
    create_db_engine,
    current_revision,
    head_revision,
    migrate,
    require_migrated,
)
from tests.db import TEST_DATABASE_URL, postgres_schema


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/empty.db"
        return
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    with postgres_schema(migrated=False) as url:
        yield url


def test_migrate_creates_then_does_nothing(empty_database: str) -> None:
    engine = create_db_engine(empty_database)
    with pytest.raises(ConfigError, match="iak-bot migrate"):
        require_migrated(engine)
    assert migrate(engine) == (None, head_revision())
    assert migrate(engine) == (head_revision(), head_revision())
    require_migrated(engine)
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {"transactions", "transaction_events", "alembic_version"} <= tables
    engine.dispose()


def test_unreachable_database_is_a_clear_message() -> None:
    engine = create_db_engine("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(ConfigError) as caught:
        require_migrated(engine)
    assert "DATABASE_URL" in str(caught.value)
    assert "secret" not in str(caught.value)
    engine.dispose()


def test_migrations_build_exactly_the_declared_schema(empty_database: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from bot.store.schema import metadata

    engine = create_db_engine(empty_database)
    migrate(engine)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    engine.dispose()
