"""Callback health reads an hour of the history however long it grows: every SELECT it sends
is explained by SQLite (Postgres plans by table statistics, so a tiny test table proves
nothing there), and each is answered from an index alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bot.incidents.kinds import callbacks as queries
from bot.store.database import Database
from tests.support.db import sqlite_copy


@pytest.fixture
def database(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    database = Database(sqlite_copy(sqlite_template, tmp_path))
    yield database
    database.close()


def test_callback_health_reads_the_history_from_its_indexes_alone(database: Database) -> None:
    sent: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        with database.engine.connect() as connection:
            queries.callback_activity(connection, datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    assert len(sent) == 3
    with database.engine.connect() as connection:
        for sql, params in sent:
            plan = " ".join(
                str(row[-1])
                for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
            )
            assert "SCAN" not in plan, (sql, plan)
            if "transaction_events" in sql:
                assert "USING COVERING INDEX" in plan, (sql, plan)
