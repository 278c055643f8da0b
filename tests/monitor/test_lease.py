"""Exactly one monitor acts; another takes over when it dies; a stalled one is fenced."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from bot.config import Settings
from bot.incidents.config import MonitorConfig
from bot.incidents.repository import IncidentRepository
from bot.incidents.tick import Monitor
from bot.registry import Registry
from bot.store.database import Database
from tests.support.alerts import CONFIG
from tests.support.fakes.clock import FakeClock


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.close()


def monitor(
    database: Database,
    clock: FakeClock,
    registry: Registry,
    name: str,
    config: MonitorConfig = CONFIG,
) -> Monitor:
    return Monitor(
        database=database,
        incidents=IncidentRepository(database.engine),
        registry=registry,
        clock=clock,
        config=config,
        channel="C1",
        iak=None,
        holder=name,
    )


async def test_one_leader_takeover_and_fencing(database: Database, registry: Registry) -> None:
    clock = FakeClock()
    first = monitor(database, clock, registry, "first")
    second = monitor(database, clock, registry, "second")
    assert (await first.tick()).leader
    assert not (await second.tick()).leader
    clock.advance(seconds=30)
    assert (await first.tick()).leader  # renewing keeps it
    assert not (await second.tick()).leader
    # first dies without a word: after its lease (3 ticks) runs out, second takes over
    clock.advance(seconds=60)
    assert not (await second.tick()).leader
    clock.advance(seconds=31)
    assert (await second.tick()).leader
    # first wakes up from its stall: it is fenced out, its tick writes nothing
    assert not (await first.tick()).leader
    info = IncidentRepository(database.engine).leader()
    assert info is not None and info.holder == "second"


async def test_a_clean_stop_hands_over_at_once(database: Database, registry: Registry) -> None:
    clock = FakeClock()
    first = monitor(database, clock, registry, "first")
    second = monitor(database, clock, registry, "second")
    assert (await first.tick()).leader
    await first.stop()
    assert (await second.tick()).leader


async def test_monitor_lease_seconds_sets_how_long_a_silent_leader_keeps_the_lead(
    database: Database, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_LEASE_SECONDS", "300")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    config = replace(CONFIG, lease=MonitorConfig.from_settings(settings).lease)
    clock = FakeClock()
    first = monitor(database, clock, registry, "first", config)
    second = monitor(database, clock, registry, "second", config)
    assert (await first.tick()).leader
    clock.advance(seconds=200)  # well past three ticks of 30 s
    assert not (await second.tick()).leader
    clock.advance(seconds=101)
    assert (await second.tick()).leader
