"""Releases that can roll back: a release's code runs on the next release's schema.

The schema only grows (nullable or defaulted columns, tables, indexes).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select

from bot.store.db import alembic_config, create_db_engine, head_revision
from bot.store.schema import transactions

Columns = dict[str, dict[str, dict[str, Any]]]


def _upgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.connect().execution_options(write=True) as connection, connection.begin():
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _columns(engine: Engine) -> Columns:
    found = inspect(engine)
    return {
        table: {column["name"]: column for column in found.get_columns(table)}
        for table in found.get_table_names()
        if table != "alembic_version"
    }


def _revisions() -> list[str]:
    """Every migration, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def test_code_of_any_earlier_release_never_misses_a_column_it_does_not_know(
    empty_database: str,
) -> None:
    """What code of revision R inserts names only R's columns: every column added after R
    must take a value of its own (nullable, or with a server default)."""
    engine = create_db_engine(empty_database)
    seen: dict[str, Columns] = {}
    for revision in _revisions():
        _upgrade(engine, revision)
        seen[revision] = _columns(engine)
    newest = seen[head_revision()]
    missing = [
        f"{table}.{name} (unknown before {revision})"
        for revision, earlier in seen.items()
        for table, columns in newest.items()
        if table in earlier
        for name, column in columns.items()
        if name not in earlier[table]
        and not column["nullable"]
        and column.get("default") is None
        and column.get("autoincrement") is not True
    ]
    engine.dispose()
    assert sorted(set(missing)) == []


def test_code_from_before_0007_inserts_a_transaction_into_the_newest_schema(
    database_url: str,
) -> None:
    """The insert code from before started_at existed ran, with only its own columns."""
    engine = create_db_engine(database_url)
    at = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    before = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            transactions.insert().values(
                ref_id="old-code-1",
                outcome="pending",
                status=0,
                rc="39",
                product_code="xld25000",
                customer_id="0817777215",
                source="ingest",
                first_seen_at=at,
                changed_at=at,
            )
        )
    with engine.connect() as connection:
        row = connection.execute(
            select(transactions.c.started_at, transactions.c.line).where(
                transactions.c.ref_id == "old-code-1"
            )
        ).one()
    engine.dispose()
    # It started when it was inserted, which is when that code first saw it.
    assert before.replace(microsecond=0) <= row.started_at <= datetime.now(UTC)
    assert row.line == "prepaid"
