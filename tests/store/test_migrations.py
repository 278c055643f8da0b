"""`iak-bot migrate` creates and upgrades the schema, idempotently; serve refuses without it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import insert, inspect, select, text

from bot.config import ConfigError
from bot.incidents.model import Acknowledged, ParentState, Rechecked, ThreadReply
from bot.incidents.repository import IncidentRepository
from bot.store.db import (
    Migration,
    alembic_config,
    create_db_engine,
    current_revision,
    head_revision,
    migrate,
    require_migrated,
)
from bot.store.schema import outbox


def test_migrate_creates_then_does_nothing(empty_database: str) -> None:
    engine = create_db_engine(empty_database)
    with pytest.raises(ConfigError, match="iak-bot migrate"):
        require_migrated(engine)
    assert migrate(engine) == Migration(None, head_revision())
    assert migrate(engine) == Migration(head_revision(), head_revision())
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


def test_upgrading_keeps_incidents_held_by_a_mute_and_queued_notes(empty_database: str) -> None:
    """Schema 0004 moves "held until the mute ends" out of an incident's figures into its
    own column, and turns queued free-text notes into the typed replies they were."""
    engine = create_db_engine(empty_database)
    config = alembic_config()
    at = "2026-11-28 03:00:00"
    with engine.connect().execution_options(write=True) as connection, connection.begin():
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        details = '{"rc": "102", "count": 1, "expected": 1.0, "threshold": 1, "stops_sales": true,'
        details += ' "window_seconds": 300, "total": 1, "peak": 1, "reported_total": 1,'
        details += ' "reported_at": "2026-11-28T03:00:00+00:00",'
        details += ' "refreshed_at": "2026-11-28T03:00:00+00:00"'
        for incident_id, key, extra, ts in (
            (1, "102", ', "held_parent": true}', None),
            (2, "204", "}", "1700000000.000001"),
        ):
            connection.execute(
                text(
                    "INSERT INTO incidents (id, kind, key, status, opened_at, updated_at, "
                    "details, parent_ts, channel) VALUES (:id, 'spike', :key, 'open', :at, :at, "
                    ":details, :ts, 'C0ALERTS')"
                ),
                {"id": incident_id, "key": key, "at": at, "details": details + extra, "ts": ts},
            )
        notes = [
            "Acknowledged by <@U0LEAD>.",
            "Rechecked 3 waiting transaction(s) at IAK on request of <@U0OPS>; IAK answered 2. "
            "Settled ones follow in this thread.",
        ]
        connection.execute(
            insert(outbox),
            [
                {
                    "incident_id": 2,
                    "channel": "C0ALERTS",
                    "action": "reply",
                    "payload": {"type": "note", "text": note},
                    "state": "pending",
                    "created_at": datetime(2026, 11, 28, 3, 0, tzinfo=UTC),
                }
                for note in notes
            ],
        )
    migrate(engine)
    repository = IncidentRepository(engine)
    held, posted = repository.get(1), repository.get(2)
    assert held is not None and held.parent_state is ParentState.HELD
    assert posted is not None and posted.parent_state is ParentState.POSTED
    intents = [item.intent for item in repository.due()]
    assert intents == [
        ThreadReply(Acknowledged("U0LEAD")),
        ThreadReply(Rechecked("U0OPS", asked=3, answered=2)),
    ]
    with engine.connect() as connection:
        stored = connection.execute(select(text("details")).select_from(text("incidents"))).all()
    assert all("held_parent" not in str(row) for row in stored)
    engine.dispose()
