"""Hours read beside the ticks and kept (bot.incidents.hours): an hour forgotten while its
read is under way (it changed after the read began) is not kept from that read, and is read
again."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Coroutine
from datetime import UTC, datetime

from sqlalchemy import Connection

from bot.incidents.failures import DayOfFailures, FailureCounts, FailureKey
from bot.incidents.hours import HourReader
from bot.incidents.watch import Tick, TickReport, WatchContext
from bot.registry import Registry
from bot.store.database import Database
from tests.support.alerts import CONFIG

WINDOW_START = datetime(2026, 11, 28, 11, 55, tzinfo=UTC)
# the newest hour settled before a window at 11:55 (it ended more than 30 minutes before)
NEWEST = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
COUNTED = FailureKey("prepaid", "07", "xld25000", expected=False)


class SlowHour:
    """Reads every hour at once but NEWEST, whose read waits until released."""

    def __init__(self) -> None:
        self.reading = threading.Event()
        self.release = threading.Event()
        self.reads = Counter[datetime]()

    def __call__(self, _connection: Connection, hour: datetime) -> FailureCounts:
        self.reads[hour] += 1
        if hour == NEWEST and self.reads[hour] == 1:
            self.reading.set()
            assert self.release.wait(5)
        return Counter({COUNTED: self.reads[hour]})


def reader_of(
    database: Database, registry: Registry, read: SlowHour
) -> tuple[HourReader[FailureCounts], list[asyncio.Task[None]]]:
    tasks: list[asyncio.Task[None]] = []

    def spawn(work: Coroutine[object, object, None], name: str) -> asyncio.Task[None]:
        tasks.append(asyncio.create_task(work, name=name))
        return tasks[-1]

    context = WatchContext(CONFIG, registry, engine=database.engine, spawn=spawn)
    reader = HourReader(
        DayOfFailures(),
        context,
        read,
        empty=Counter,
        earliest=lambda _connection, since: since,
        task="test-hours",
        what="the test's hours",
    )
    return reader, tasks


def a_tick() -> Tick:
    """What `HourReader.catch_up` uses of a tick: where to leave work for after its commit."""
    return Tick(None, WINDOW_START, None, "C0OPS", TickReport(leader=True))  # type: ignore[arg-type]


def committed(tick: Tick) -> None:
    for callback in tick.report.after_commit:
        callback()


async def test_an_hour_forgotten_while_it_is_read_is_read_again(
    database: Database, registry: Registry
) -> None:
    slow = SlowHour()
    reader, tasks = reader_of(database, registry, slow)
    tick = a_tick()
    reader.catch_up(tick, WINDOW_START)
    committed(tick)
    assert await asyncio.to_thread(slow.reading.wait, 5)
    reader.forget([NEWEST])  # a failure in it was written after its read began
    slow.release.set()
    await asyncio.gather(*tasks)

    tick = a_tick()
    reader.catch_up(tick, WINDOW_START)
    assert NEWEST not in reader.hours.hours  # the read that began before is not kept
    assert len(reader.hours.hours) == 22  # every other hour of the day is
    committed(tick)
    await asyncio.gather(*tasks)
    reader.catch_up(a_tick(), WINDOW_START)
    assert reader.hours.complete
    assert reader.hours.hours[NEWEST] == Counter({COUNTED: 2})  # the second read of it


async def test_an_hour_forgotten_after_it_was_kept_is_read_again(
    database: Database, registry: Registry
) -> None:
    slow = SlowHour()
    slow.release.set()
    reader, tasks = reader_of(database, registry, slow)
    tick = a_tick()
    reader.catch_up(tick, WINDOW_START)
    committed(tick)
    await asyncio.gather(*tasks)
    reader.catch_up(a_tick(), WINDOW_START)
    assert reader.hours.complete and reader.hours.total[COUNTED] == 23

    reader.forget([NEWEST])
    tick = a_tick()
    reader.catch_up(tick, WINDOW_START)
    assert not reader.hours.complete and reader.hours.total[COUNTED] == 22
    committed(tick)
    await asyncio.gather(*tasks)
    reader.catch_up(a_tick(), WINDOW_START)
    assert reader.hours.complete and reader.hours.total[COUNTED] == 24  # read twice: 2
