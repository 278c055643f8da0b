"""Exactly one monitor acts; another takes over when it dies; a stalled one is fenced."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Settings
from bot.incidents.config import MonitorConfig
from bot.incidents.repository import IncidentRepository
from bot.incidents.tick import Monitor
from bot.registry import Registry
from bot.store.database import Database
from tests.support.alerts import CONFIG, monitor_on
from tests.support.fakes.clock import FakeClock


def monitor(
    database: Database,
    clock: FakeClock,
    registry: Registry,
    name: str,
    config: MonitorConfig = CONFIG,
) -> Monitor:
    return monitor_on(database, registry, clock, config, channel="C1", holder=name)


async def test_one_leader_takeover_and_fencing(database: Database, registry: Registry) -> None:
    # The database's clock judges the lease: real time passes here, a 2 s lease of it.
    clock = FakeClock(running=True)
    config = replace(CONFIG, lease=timedelta(seconds=2))
    first = monitor(database, clock, registry, "first", config)
    second = monitor(database, clock, registry, "second", config)
    assert (await first.tick()).leader
    assert not (await second.tick()).leader
    await asyncio.sleep(1.0)
    assert (await first.tick()).leader  # renewing keeps it
    await asyncio.sleep(1.0)  # two seconds since first took it, one since it renewed
    assert not (await second.tick()).leader
    # first dies without a word: once its lease runs out, second takes over
    await asyncio.sleep(1.3)
    assert (await second.tick()).leader
    # first wakes up from its stall: it is fenced out, its tick writes nothing
    assert not (await first.tick()).leader
    info = IncidentRepository(database.engine).leader()
    assert info is not None and info.holder == "second" and info.live


async def test_the_lease_is_judged_by_the_database_clock_not_each_process_clock(
    database: Database, registry: Registry
) -> None:
    real = datetime.now(UTC)
    behind = FakeClock(real - timedelta(minutes=10), running=True)
    ahead = FakeClock(real + timedelta(hours=1), running=True)
    config = replace(CONFIG, lease=timedelta(seconds=2))
    slow = monitor(database, behind, registry, "slow", config)
    fast = monitor(database, ahead, registry, "fast", config)
    # A leader whose clock is ten minutes behind keeps the lead while it renews: the lease
    # it writes has not run out for a process whose clock is right (or ahead).
    assert (await slow.tick()).leader
    assert not (await fast.tick()).leader
    await asyncio.sleep(1.0)
    assert (await slow.tick()).leader
    assert not (await fast.tick()).leader
    # It dies: the other takes over once its 2 s have run out, by the database's clock.
    await asyncio.sleep(2.3)
    assert (await fast.tick()).leader
    # The one an hour ahead dies in turn: its lease lasts 2 s too, not an hour more.
    assert not (await slow.tick()).leader
    await asyncio.sleep(2.3)
    assert (await slow.tick()).leader


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
    # the lease runs 300 s from the renewal by the database's clock (the machine's here)
    assert 295 < lease_left(database) <= 300
    assert not (await second.tick()).leader
    # without the setting: three ticks of 30 s
    default = monitor(database, clock, registry, "default")
    await first.release()
    assert (await default.tick()).leader
    assert 85 < lease_left(database) <= 90


def lease_left(database: Database) -> float:
    """Seconds until the stored lease runs out, by this machine's clock (the database's)."""
    info = IncidentRepository(database.engine).leader()
    assert info is not None
    return (info.expires_at - datetime.now(UTC)).total_seconds()
