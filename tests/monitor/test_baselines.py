"""A spike's and a product outage's baseline, the failures of the 24 hours before the window,
once the monitor keeps them an hour at a time: with a day of failures stored, the monitor
ticks on a fake clock and opens an incident at exactly the threshold a read of the whole
day gives, not one failure sooner, whether its hours are all read, being read, or changed
after they were read."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy.exc import OperationalError

from bot.incidents.config import MonitorConfig
from bot.incidents.failures import FailureHours, failure_counts, per_code
from bot.incidents.kinds.product import ProductOutageDetails
from bot.incidents.kinds.spike import SpikeDetails, SpikeWatch
from bot.incidents.model import Incident, IncidentKind
from bot.incidents.tick import Monitor
from bot.registry import Registry
from bot.registry.windows import KnownWindow
from bot.store.database import Database
from bot.store.states import Observation
from tests.support.alerts import monitor_on, statements_in_ticks
from tests.support.fakes.clock import FakeClock
from tests.support.transactions import record_all, seen

NOW = datetime(2026, 11, 28, 12, 20, tzinfo=UTC)
WINDOW = timedelta(hours=1)
DAY_START = NOW - WINDOW - timedelta(hours=24)  # 27 Nov 11:20: the baseline's first moment
# Three times the day's failures per window open an incident: with 160 failures in the day,
# 3 x 160 / 24 = 20 in the window's hour.
CONFIG = MonitorConfig(
    interval=timedelta(seconds=30),
    age_out=timedelta(minutes=15),
    spike_window=WINDOW,
    spike_min_failures=3,
    spike_factor=3,
    low_balance_threshold=None,
    success_rate_min_transactions=1_000_000,  # operator health judges nothing here
)


def day_of_failures(rc: str, product: str, prefix: str = "day") -> list[Observation]:
    """160 failures in the 24 hours before the window, spread so that every part of the day
    counts: 8 in its first 40 minutes (27 Nov 11:20 to 12:00, before its first whole hour),
    144 over its 22 whole settled hours, 8 in the last 80 minutes before the window (10:00
    to 11:20, not settled); and 8 just before the day, which do not count."""
    registry = Registry.load()
    times = [DAY_START - timedelta(minutes=20) + timedelta(minutes=n) for n in range(8)]
    times += [DAY_START + timedelta(minutes=5 + 4 * n) for n in range(8)]
    first_hour = DAY_START + timedelta(minutes=40)
    for hour in range(22):
        per_hour = 7 if hour < 12 else 6
        times += [first_hour + timedelta(hours=hour, minutes=3 + 8 * n) for n in range(per_hour)]
    times += [NOW - WINDOW - timedelta(minutes=75) + timedelta(minutes=9 * n) for n in range(8)]
    return [
        seen(registry, f"{prefix}{n:03d}", at, "failed", rc=rc, product_code=product)
        for n, at in enumerate(times)
    ]


def live(rc: str, product: str, count: int, first: int = 0) -> list[Observation]:
    """`count` failures in the window (the last hour)."""
    registry = Registry.load()
    return [
        seen(
            registry,
            f"live{n:03d}",
            NOW - timedelta(minutes=50) + timedelta(seconds=30 * n),
            "failed",
            rc=rc,
            product_code=product,
        )
        for n in range(first, first + count)
    ]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def monitor(database: Database, registry: Registry, clock: FakeClock) -> Monitor:
    return monitor_of(database, registry, clock, CONFIG)


def monitor_of(
    database: Database, registry: Registry, clock: FakeClock, config: MonitorConfig
) -> Monitor:
    return monitor_on(database, registry, clock, config)


def kept(monitor: Monitor) -> FailureHours:
    """The monitor's failures per hour (the spike and product watches share them)."""
    spikes = next(watch for watch in monitor.watches if isinstance(watch, SpikeWatch))
    return spikes.failures


async def tick(monitor: Monitor) -> list[str]:
    """One tick, and the reads it started beside it; what it opened."""
    report = await monitor.tick()
    await monitor.beside_finished()
    return report.opened


async def read_every_hour(monitor: Monitor) -> None:
    """Tick until the monitor keeps every settled hour of the day."""
    for _ in range(5):
        assert await tick(monitor) == []
        if kept(monitor).hours.complete:
            return
    raise AssertionError("the monitor never read the day's hours")


def opened(monitor: Monitor, kind: IncidentKind) -> Incident:
    (incident,) = [i for i in monitor.incidents.open_incidents() if i.kind is kind]
    return incident


def whole_day(database: Database) -> dict[str, int]:
    """The baseline a read of the whole day gives, per code key."""
    with database.engine.connect() as connection:
        return per_code(failure_counts(connection, DAY_START, NOW - WINDOW))


async def test_with_every_hour_kept_a_spike_opens_at_the_days_threshold(
    database: Database, monitor: Monitor
) -> None:
    record_all(database.transactions, day_of_failures("07", "xld25000"))
    # another code's day is another baseline
    record_all(database.transactions, day_of_failures("17", "xld25000", prefix="other"))
    assert whole_day(database)["07"] == 160
    await read_every_hour(monitor)
    assert len(kept(monitor).hours.hours) == 22

    record_all(database.transactions, live("07", "xld25000", 19))
    assert await tick(monitor) == []  # one short of 20
    record_all(database.transactions, live("07", "xld25000", 1, first=19))
    assert await tick(monitor) == ["spike:07"]
    details = opened(monitor, IncidentKind.SPIKE).details
    assert isinstance(details, SpikeDetails)
    assert (details.count, details.threshold, details.expected) == (20, 20.0, 6.67)


async def test_a_new_leader_reads_the_days_hours_before_its_first_tick_not_in_it(
    database: Database, monitor: Monitor
) -> None:
    # At a large reseller's size the whole day is 100,000 failures: a tick that read them
    # would hold its transaction (and on SQLite the write lock) for it.
    record_all(database.transactions, day_of_failures("07", "xld25000"))
    record_all(database.transactions, live("07", "xld25000", 20))
    with statements_in_ticks(monitor) as in_ticks:
        report = await monitor.tick()
    assert report.opened == ["spike:07"]  # at the whole day's threshold, 20, at once
    details = opened(monitor, IncidentKind.SPIKE).details
    assert isinstance(details, SpikeDetails) and details.threshold == 20.0
    assert len(kept(monitor).hours.hours) == 22
    # inside the tick, only what the kept hours leave: the day's first 40 minutes and the
    # 80 minutes since its last settled hour (and the window), never the day
    spans = [
        max(times) - min(times)
        for sql, parameters in in_ticks
        if "GROUP BY transactions.line, transactions.rc" in sql
        for times in [[v for v in parameters.values() if isinstance(v, datetime)]]
    ]
    assert spans and max(spans) <= timedelta(hours=1, minutes=20)


async def test_a_follower_reads_no_hour_before_its_ticks(
    database: Database, registry: Registry, clock: FakeClock, monitor: Monitor
) -> None:
    record_all(database.transactions, day_of_failures("07", "xld25000"))
    await tick(monitor)  # the leader
    follower = monitor_of(database, registry, clock, CONFIG)
    await tick(follower)
    assert not follower.is_leader and kept(follower).hours.hours == {}


async def test_while_the_hours_are_read_a_spike_opens_at_the_same_threshold(
    database: Database, registry: Registry, clock: FakeClock
) -> None:
    # a read slot so short that each one reads a single hour: the day takes many ticks
    slow = monitor_of(database, registry, clock, replace(CONFIG, interval=timedelta(0)))

    def failing(*_: object) -> None:  # as when the read before the tick fails
        raise OperationalError("SELECT", {}, Exception("the database went away"))

    kept(slow).reader.read_now = failing  # type: ignore[method-assign, assignment]
    record_all(database.transactions, day_of_failures("07", "xld25000"))
    record_all(database.transactions, live("07", "xld25000", 19))
    assert await tick(slow) == []
    assert await tick(slow) == []
    assert 0 < len(kept(slow).hours.hours) < 22  # some hours read, not all
    record_all(database.transactions, live("07", "xld25000", 1, first=19))
    assert await tick(slow) == ["spike:07"]
    assert not kept(slow).hours.complete
    details = opened(slow, IncidentKind.SPIKE).details
    assert isinstance(details, SpikeDetails) and details.threshold == 20.0


async def test_a_failure_dated_into_an_hour_already_read_still_counts(
    database: Database, monitor: Monitor
) -> None:
    record_all(database.transactions, day_of_failures("07", "xld25000"))
    await read_every_hour(monitor)
    # the backend forwards 8 failures of five hours ago, now: 168 in the day, 21 to open
    registry = Registry.load()
    record_all(
        database.transactions,
        [
            replace(
                seen(registry, f"import{n}", NOW, "failed", rc="07"),
                created_at=NOW - timedelta(hours=5, minutes=n),
            )
            for n in range(8)
        ],
    )
    record_all(database.transactions, live("07", "xld25000", 20))
    assert await tick(monitor) == []
    record_all(database.transactions, live("07", "xld25000", 1, first=20))
    assert await tick(monitor) == ["spike:07"]
    details = opened(monitor, IncidentKind.SPIKE).details
    assert isinstance(details, SpikeDetails) and details.threshold == 21.0


async def test_with_every_hour_kept_a_product_outage_opens_at_the_days_threshold(
    database: Database, monitor: Monitor
) -> None:
    record_all(database.transactions, day_of_failures("106", "tsel25"))
    # not this product's outage: another product's, and this product's other failures
    record_all(database.transactions, day_of_failures("106", "tsel50", prefix="other"))
    record_all(database.transactions, day_of_failures("07", "tsel25", prefix="sales"))
    await read_every_hour(monitor)

    record_all(database.transactions, live("106", "tsel25", 19))
    assert await tick(monitor) == []
    record_all(database.transactions, live("106", "tsel25", 1, first=19))
    assert await tick(monitor) == ["product:tsel25"]
    details = opened(monitor, IncidentKind.PRODUCT).details
    assert isinstance(details, ProductOutageDetails)
    assert (details.spike.count, details.spike.threshold) == (20, 20.0)


async def test_cut_off_failures_in_the_hours_kept_do_not_raise_the_baseline(
    database: Database, monitor: Monitor
) -> None:
    record_all(database.transactions, day_of_failures("109", "bpjs"))
    # 100 PLN failures with the cut-off's code in its hours (23:00 to 01:00 WIB, 27 Nov),
    # which are among the hours kept
    cut_off = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    registry = Registry.load()
    record_all(
        database.transactions,
        [
            seen(
                registry,
                f"cut{n:03d}",
                cut_off + timedelta(minutes=n),
                "failed",
                rc="109",
                product_code="pln20000",
            )
            for n in range(100)
        ],
    )
    assert whole_day(database)["109"] == 160
    await read_every_hour(monitor)
    record_all(database.transactions, live("109", "pln20000", 19))
    assert await tick(monitor) == []
    record_all(database.transactions, live("109", "pln20000", 1, first=19))
    assert await tick(monitor) == ["spike:109"]
    details = opened(monitor, IncidentKind.SPIKE).details
    assert isinstance(details, SpikeDetails) and details.threshold == 20.0


def test_an_hour_is_cut_where_a_window_begins_or_ends(
    database: Database, registry: Registry
) -> None:
    """A window that does not start on the hour (23:30 to 00:30 WIB) splits the hour: its
    failures before 23:30 WIB are not expected, those after are."""
    half = KnownWindow("half", frozenset({"109"}), ("pln",), time(23, 30), time(0, 30))
    hour = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # 23:00 WIB
    record_all(
        database.transactions,
        [
            seen(registry, f"h{n}", at, "failed", rc="109", product_code="pln20000")
            for n, at in enumerate(hour + timedelta(minutes=10 * n) for n in range(6))
        ],
    )
    with database.engine.connect() as connection:
        counts = failure_counts(connection, hour, hour + timedelta(hours=1), (half,))
    assert {key.expected: count for key, count in counts.items()} == {False: 3, True: 3}
