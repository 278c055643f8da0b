"""The monitor's statements stay on the indexes however big the table grows: every SELECT
a tick sends is explained by SQLite (Postgres plans by table statistics, so a tiny test
table proves nothing there) and none reads the whole transactions table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bot.outcomes import Source
from bot.registry import Registry
from bot.store.database import Database
from tests.support.alerts import monitor_on
from tests.support.db import sqlite_copy
from tests.support.fakes.clock import FakeClock
from tests.support.transactions import record_all, seen

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def database(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    database = Database(sqlite_copy(sqlite_template, tmp_path))
    yield database
    database.close()


def test_a_tick_never_scans_the_transactions_table(database: Database, registry: Registry) -> None:
    # An aged-out pending incident, a failure spike and a conflict, so that every query
    # of a tick runs, including those for open incidents.
    old = T0 - timedelta(hours=1)
    record_all(
        database.transactions,
        [seen(registry, f"p{n}", old) for n in range(5)]
        + [seen(registry, f"f{n}", T0 - timedelta(seconds=n), "failed", rc="07") for n in range(12)]
        + [seen(registry, "c1", old, "success", source=Source.CALLBACK)],
    )
    record_all(database.transactions, [seen(registry, "c1", T0, "failed", rc="07")])
    clock = FakeClock(T0)
    monitor = monitor_on(database, registry, clock)  # CONFIG: a low-balance threshold too
    first = monitor._decide_and_write(clock.now())
    assert first.opened  # the incidents are open: the next tick reads them as open
    sent: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "transactions" in statement:
            sent.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        clock.advance(seconds=30)
        monitor._decide_and_write(clock.now())
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    assert sent
    with database.engine.connect() as connection:
        for sql, params in sent:
            plan = " ".join(
                str(row[-1])
                for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
            )
            assert "SCAN transactions" not in plan, (sql, plan)
