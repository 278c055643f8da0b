"""The deposit's spend rate: every balance IAK reported in the last hour, read only when the
balance is low or an incident about it is open (at a large reseller's rate an hour of
balances is the heaviest read a tick could make). Driven through the monitor's ticks on a
fake clock, with the statements it sends read off the engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from bot.incidents.kinds import deposit
from bot.incidents.kinds.deposit import DepositDetails
from bot.incidents.model import IncidentKind
from bot.incidents.tick import Monitor
from bot.registry import Registry
from bot.store.database import Database
from tests.support.alerts import CONFIG, monitor_on
from tests.support.fakes.clock import FakeClock
from tests.support.transactions import record_all, seen

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
THRESHOLD = 1_000_000


def monitor_of(database: Database, registry: Registry, clock: FakeClock) -> Monitor:
    return monitor_on(database, registry, clock, replace(CONFIG, low_balance_threshold=THRESHOLD))


def balances(registry: Registry, start: int, step: int, prefix: str) -> list[Any]:
    """A top-up every 10 minutes of the last hour, each reporting the balance `step` lower."""
    return [
        seen(
            registry,
            f"{prefix}{n}",
            NOW - timedelta(minutes=55) + timedelta(minutes=10 * n),
            "success",
            balance=start - step * n,
        )
        for n in range(6)
    ]


@contextmanager
def hour_of_balances_read(database: Database) -> Iterator[list[str]]:
    """The statements that read the balances reported since a moment (the spend rate)."""
    found: list[str] = []

    def capture(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if "transaction_events.balance" in statement and "observed_at >=" in statement:
            found.append(statement)

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        yield found
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)


async def test_a_healthy_deposit_is_not_read_for_its_spend_rate(
    database: Database, registry: Registry
) -> None:
    record_all(database.transactions, balances(registry, 5_000_000, 100_000, "fine"))
    monitor = monitor_of(database, registry, FakeClock(NOW))
    with hour_of_balances_read(database) as reads:
        assert (await monitor.tick()).opened == []
    assert reads == []


async def test_a_low_deposit_opens_with_its_spend_rate_and_keeps_it_while_open(
    database: Database, registry: Registry
) -> None:
    # 100,000 spent every 10 minutes: 600,000 an hour
    record_all(database.transactions, balances(registry, 1_400_000, 100_000, "low"))
    clock = FakeClock(NOW)
    monitor = monitor_of(database, registry, clock)
    with hour_of_balances_read(database) as reads:
        assert (await monitor.tick()).opened == ["deposit:deposit"]
    assert reads
    (incident,) = monitor.incidents.open_incidents()
    assert incident.kind is IncidentKind.DEPOSIT
    details = incident.details
    assert isinstance(details, DepositDetails)
    assert (details.balance, details.spend_per_hour, details.hours_left) == (900_000, 600_000, 1.5)

    # topped up above the threshold, not yet above it with the margin: still open, and the
    # spend rate still read
    record_all(
        database.transactions,
        [seen(registry, "topup", NOW + timedelta(seconds=10), "success", balance=1_050_000)],
    )
    clock.advance(seconds=30)
    with hour_of_balances_read(database) as reads:
        await monitor.tick()
    assert reads
    (incident,) = monitor.incidents.open_incidents()
    assert isinstance(incident.details, DepositDetails)
    assert incident.details.balance == 1_050_000
    assert incident.details.spend_per_hour is not None


async def test_a_busy_hour_is_judged_by_its_newest_balances(
    database: Database, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a large reseller's rate the hour holds tens of thousands of balances: the spend
    rate comes from the newest SPEND_READINGS (here 4) of them, a bounded read."""
    monkeypatch.setattr(deposit, "SPEND_READINGS", 4)
    # fast early in the hour (100,000 every 10 minutes), then slower (10,000 every minute)
    early = balances(registry, 1_800_000, 100_000, "early")[:3]  # 55, 45, 35 minutes ago
    late = [
        seen(
            registry,
            f"late{n}",
            NOW - timedelta(minutes=4) + timedelta(minutes=n),
            "success",
            balance=990_000 - 10_000 * n,
        )
        for n in range(4)
    ]
    record_all(database.transactions, [*early, *late])
    monitor = monitor_of(database, registry, FakeClock(NOW))
    with hour_of_balances_read(database) as reads:
        assert (await monitor.tick()).opened == ["deposit:deposit"]
    assert reads and all("LIMIT" in statement.upper() for statement in reads)
    (incident,) = monitor.incidents.open_incidents()
    details = incident.details
    assert isinstance(details, DepositDetails)
    # the newest four span 3 minutes and spend 30,000: 600,000 an hour, not the hour's mix
    assert (details.balance, details.spend_per_hour) == (960_000, 600_000)
