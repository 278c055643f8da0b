"""The monitor's look for serial numbers delivered twice, tick by tick on a fake clock: each
success is probed once, yet a repeat whose write commits after the tick that followed it is
found, a new monitor looks back over the whole day, and a look longer than one tick goes on
at the next."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.incidents.config import MonitorConfig
from bot.incidents.kinds.serial import SERIAL_MARGIN, SerialDetails
from bot.incidents.model import IncidentKind
from bot.incidents.repository import IncidentRepository
from bot.incidents.tick import Monitor
from bot.registry import Registry
from bot.store.database import Database
from bot.store.states import Observation
from tests.support.alerts import monitor_on
from tests.support.fakes.clock import FakeClock
from tests.support.transactions import record_all, seen

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
TICK = timedelta(seconds=30)
CONFIG = MonitorConfig(
    interval=TICK,
    age_out=timedelta(minutes=15),
    spike_window=timedelta(minutes=5),
    spike_min_failures=10,
    spike_factor=3,
    low_balance_threshold=None,
)


def monitor_of(database: Database, registry: Registry, clock: FakeClock, holder: str) -> Monitor:
    return monitor_on(database, registry, clock, CONFIG, holder=holder)


def delivered(registry: Registry, ref_id: str, at: datetime, serial: str) -> Observation:
    return seen(registry, ref_id, at, "success", sn=serial)


def serials_open(monitor: Monitor) -> dict[str, int]:
    """The serial numbers with an open incident, and how many successes delivered each."""
    found = {}
    for incident in monitor.incidents.open_incidents():
        if incident.kind is IncidentKind.SERIAL:
            assert isinstance(incident.details, SerialDetails)
            found[incident.details.serial] = incident.details.total
    return found


async def test_a_repeat_whose_write_commits_after_the_next_tick_is_found(
    database: Database, registry: Registry
) -> None:
    clock = FakeClock(NOW)
    monitor = monitor_of(database, registry, clock, "leader")
    record_all(database.transactions, [delivered(registry, "first", NOW - 4 * TICK, "111222333")])
    assert (await monitor.tick()).opened == []
    clock.advance(seconds=30)
    assert (await monitor.tick()).opened == []  # "first" was probed: not again
    # heard before that tick, written after it (a write may take that long): within the
    # margin every tick looks back over
    late = clock.now() - TICK - timedelta(seconds=10)
    assert clock.now() - late < SERIAL_MARGIN
    record_all(database.transactions, [delivered(registry, "second", late, "111222333")])
    clock.advance(seconds=30)
    assert (await monitor.tick()).opened == ["serial:111222333"]
    assert serials_open(monitor) == {"111222333": 2}


async def test_a_new_monitor_looks_back_over_the_day_its_predecessor_had_passed(
    database: Database, registry: Registry
) -> None:
    clock = FakeClock(NOW)
    leader = monitor_of(database, registry, clock, "leader")
    record_all(database.transactions, [delivered(registry, "a", NOW - timedelta(hours=3), "777")])
    for _ in range(3):
        assert (await leader.tick()).opened == []
        clock.advance(seconds=30)
    # an import of a success three hours old: too old for the leader's look to pass again
    record_all(database.transactions, [delivered(registry, "b", NOW - timedelta(hours=3), "777")])
    assert (await leader.tick()).opened == []
    await leader.stop()
    clock.advance(seconds=30)

    follower = monitor_of(database, registry, clock, "follower")
    assert (await follower.tick()).opened == ["serial:777"]


async def test_a_look_longer_than_a_tick_goes_on_at_the_next_and_finds_every_repeat(
    database: Database, registry: Registry
) -> None:
    """A new monitor probes a bounded number of successes a tick (the fewer the shorter its
    interval): 300 successes of the day take it several ticks, and no repeat is lost at
    the end of one."""
    clock = FakeClock(NOW)
    monitor = Monitor(
        database=database,
        incidents=IncidentRepository(database.engine),
        registry=registry,
        clock=clock,
        config=replace(CONFIG, interval=timedelta(0)),  # the fewest a tick
        channel="C0OPS",
        iak=None,
    )
    start = NOW - timedelta(hours=20)
    successes = [
        delivered(registry, f"s{n:03d}", start + timedelta(minutes=n), f"9{n:08d}")
        for n in range(300)
    ]
    # five serial numbers delivered again, the second time one minute later (at the last
    # success of a chunk, at the first of the next, ...)
    again = [0, 49, 50, 149, 299]
    successes += [
        delivered(registry, f"again{n:03d}", start + timedelta(minutes=n, seconds=1), f"9{n:08d}")
        for n in again
    ]
    record_all(database.transactions, successes)
    opened: list[str] = []
    for _ in range(12):
        opened += (await monitor.tick()).opened
        clock.advance(seconds=1)
    assert sorted(opened) == [f"serial:9{n:08d}" for n in again]


async def test_a_second_delivery_at_the_same_moment_written_after_a_tick_is_found(
    database: Database, registry: Registry
) -> None:
    """The look remembers how many successes delivered a serial number at a moment (a clock
    that does not move, as the fake one here, gives both the same moment)."""
    clock = FakeClock(NOW)
    monitor = monitor_of(database, registry, clock, "leader")
    record_all(database.transactions, [delivered(registry, "one", NOW, "444555666")])
    assert (await monitor.tick()).opened == []
    record_all(database.transactions, [delivered(registry, "two", NOW, "444555666")])
    assert (await monitor.tick()).opened == ["serial:444555666"]
