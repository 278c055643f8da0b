"""Hours read once beside the ticks: the whole hours of a span before a window (an
operator's usual week, a day of failures), each read once after it settled, kept with
their running total, and dropped once they leave the span.

A tick never waits on these reads, nor makes them in its transaction (a process that takes
the lead with none kept may read them before its first tick: `read_now`). A watch takes
what arrived since its last tick and, once its tick has committed, asks for the hours still
missing (`HourReader.catch_up`).
They are read beside the ticks (`WatchContext.spawn`, through `WatchContext.engine`: on
SQLite the tick's transaction holds the write lock every callback waits for), each in a
short transaction of its own, and between ticks, not during one: from a tick's commit for
at most READ_SHARE_OF_INTERVAL of the monitor's interval, each hour resting as long as its
read took, at least one hour a slot. After a start (or on a new leader) the span is read
newest hour first (hours older than the oldest row there is are known empty without a
read); then, once an hour, the hour that settled. A watch that learns an hour kept has
changed since it was read forgets it (`HourReader.forget`): it is read again, and a read of
it that began before is not kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy import Connection

from bot.incidents.watch import Tick, WatchContext

log = logging.getLogger(__name__)

# An hour is read (once) when it ended this long before the window: most of its pending
# transactions have reached their outcome by then.
SETTLED_AFTER = timedelta(minutes=30)
# Hours are read between ticks, from a tick's commit for at most this share of the
# monitor's interval: no read runs beside the next tick (the tick's cost is its own).
READ_SHARE_OF_INTERVAL = 0.5
HOUR = timedelta(hours=1)

H = TypeVar("H")
T = TypeVar("T")


def hour_of(moment: datetime) -> datetime:
    """The UTC hour a moment falls in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class SettledHours(ABC, Generic[H]):
    """The settled whole hours of a span of `length` before a window, each kept as it was
    read, with their running total (kept by `_count`)."""

    def __init__(self, length: timedelta) -> None:
        self.length = length
        self.hours: dict[datetime, H] = {}
        self.complete = False  # every hour of the span read

    def span(self, window_start: datetime) -> tuple[datetime, datetime]:
        """The span's first whole hour, and the first hour after it not yet settled: the
        hours between `length` before the window and the last hour settled before it."""
        return hour_of(window_start - self.length) + HOUR, hour_of(window_start - SETTLED_AFTER)

    def keep_to(self, window_start: datetime) -> None:
        """Drop the hours that left the span; `complete` then says whether every hour of
        it is read."""
        first, last = self.span(window_start)
        for old in [h for h in self.hours if not first <= h < last]:
            self.drop(old)
        self.complete = not self.missing(window_start)

    def missing(self, window_start: datetime) -> list[datetime]:
        """The hours of the span not read yet, newest first."""
        first, last = self.span(window_start)
        found = []
        hour = last - HOUR
        while hour >= first:
            if hour not in self.hours:
                found.append(hour)
            hour -= HOUR
        return found

    def unkept(self, window_start: datetime) -> list[tuple[datetime, datetime]]:
        """The stretches [start, end) of the span's whole length before the window that no
        kept hour covers (its start's part of an hour, the hours not read or not settled,
        the time from the last hour to the window), oldest first."""
        found = []
        start = window_start - self.length
        for hour in sorted(self.hours):
            if hour > start:
                found.append((start, hour))
            start = max(start, hour + HOUR)
        if start < window_start:
            found.append((start, window_start))
        return found

    def add(self, hour: datetime, value: H, window_start: datetime) -> None:
        """An hour that was read (kept only if it is still in the span, and new)."""
        first, last = self.span(window_start)
        if first <= hour < last and hour not in self.hours:
            self.hours[hour] = value
            self._count(value, 1)

    def drop(self, hour: datetime) -> None:
        """Forget an hour kept (it is missing again)."""
        if hour in self.hours:
            self._count(self.hours.pop(hour), -1)

    @abstractmethod
    def _count(self, value: H, sign: int) -> None:
        """Add an hour to the running total (`sign` -1: take it out again)."""


class HourReader(Generic[H]):
    """Reads the missing hours of one `SettledHours` beside the ticks, one short
    transaction each, and hands them to it at the next tick."""

    def __init__(
        self,
        hours: SettledHours[H],
        context: WatchContext,
        read: Callable[[Connection, datetime], H],
        *,
        empty: Callable[[], H],
        earliest: Callable[[Connection, datetime], datetime | None],
        task: str,
        what: str,
    ) -> None:
        """`read` reads one hour; `earliest` says when the oldest row since a moment
        happened (the hours before it are `empty` without a read); `task` names the reads'
        task, `what` what they read (for the log)."""
        self.hours = hours
        self.engine = context.engine
        self.spawn = context.spawn
        self.slot = context.config.interval.total_seconds() * READ_SHARE_OF_INTERVAL
        self.read = read
        self.empty = empty
        self.earliest = earliest
        self.task = task
        self.what = what
        # hours read beside the ticks, waiting for the next tick to take them: each with
        # the count of `forget` calls when its read began
        self._arrived: deque[tuple[datetime, H, int]] = deque()
        self._reading: asyncio.Task[None] | None = None
        self._read_until = 0.0  # time.monotonic() at which the read gives way to the next tick
        self._forgets = 0
        self._forgotten: dict[datetime, int] = {}  # hour: the `forget` that forgot it last

    def catch_up(self, tick: Tick, window_start: datetime) -> None:
        """`take` the hours read since the last tick, then `ask` for the missing ones."""
        self.take(window_start)
        self.ask(tick, window_start)

    def take(self, window_start: datetime) -> None:
        """Keep the hours read since the last tick (but an hour forgotten after its read
        began), and drop those that left the span."""
        while self._arrived:
            hour, value, forgets = self._arrived.popleft()
            if forgets >= self._forgotten.get(hour, 0):
                self.hours.add(hour, value, window_start)
        self.hours.keep_to(window_start)
        first, _ = self.hours.span(window_start)
        for old in [h for h in self._forgotten if h < first]:
            del self._forgotten[old]

    def ask(self, tick: Tick, window_start: datetime) -> None:
        """Once this tick has committed, read the hours still missing (without an engine,
        none are ever read)."""
        self.hours.complete = not self.hours.missing(window_start)
        if not self.hours.complete and self.engine is not None:
            missing = self.hours.missing(window_start)
            tick.after_commit(lambda: self._read_hours(missing))

    def read_now(self, connection: Connection, window_start: datetime) -> None:
        """Read every missing hour now, in `connection` (before a tick, outside its
        transaction: a new leader's, which has none kept), for the tick to take; the hours
        a read beside the ticks brought already are not read again."""
        forgets = self._forgets
        arrived = {hour for hour, _value, _forgets in self._arrived}
        missing = [h for h in self.hours.missing(window_start) if h not in arrived]
        if not missing:
            return
        earliest = self.earliest(connection, missing[-1])
        oldest = hour_of(earliest) if earliest is not None else missing[0] + HOUR
        for hour in missing:
            value = self.read(connection, hour) if hour >= oldest else self.empty()
            self._arrived.append((hour, value, forgets))

    def forget(self, hours: Iterable[datetime]) -> None:
        """These hours changed since they were read (or while they are being read): they
        are read again, and a read of them that began before now is not kept."""
        self._forgets += 1
        for hour in hours:
            self._forgotten[hour] = self._forgets
            self.hours.drop(hour)

    def _read_hours(self, missing: list[datetime]) -> None:
        """Read these hours (newest first) between this tick and the next, unless a read
        is under way (it may go on as long)."""
        self._read_until = time.monotonic() + self.slot
        if self._reading is not None and not self._reading.done():
            return
        self._reading = self.spawn(self._read(missing), self.task)

    async def _read(self, missing: list[datetime]) -> None:
        """Each hour in a short transaction of its own, resting as long as it took (a
        reader never takes more than half the database's time), until the slot between two
        ticks is over (at least one hour a slot); the next tick asks for what is still
        missing. Hours older than the oldest row are empty without a read."""
        try:
            forgets = self._forgets
            earliest = await asyncio.to_thread(self._connected, self.earliest, missing[-1])
            oldest = hour_of(earliest) if earliest is not None else missing[0] + HOUR
            for hour in missing:
                if hour < oldest:
                    self._arrived.append((hour, self.empty(), forgets))
            for count, hour in enumerate(h for h in missing if h >= oldest):
                if count and time.monotonic() >= self._read_until:
                    return  # the next tick's turn
                started = time.perf_counter()
                forgets = self._forgets
                value = await asyncio.to_thread(self._connected, self.read, hour)
                self._arrived.append((hour, value, forgets))
                await asyncio.sleep(time.perf_counter() - started)
        except Exception:
            log.warning("could not read %s", self.what, exc_info=True)

    def _connected(self, work: Callable[[Connection, datetime], T], moment: datetime) -> T:
        """`work` in a short transaction of its own."""
        assert self.engine is not None
        with self.engine.connect() as connection:
            return work(connection, moment)
