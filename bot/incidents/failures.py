"""Failures per hour, kept for the 24-hour baselines the spike and product kinds judge a
window against: one read of each hour serves both.

A spike's baseline is its code's failures in the 24 hours before the window, less those a
known window expects (`bot.registry.windows`); a product outage's is the product's prepaid
failures with the product-level codes over the same hours. Both come from one count:
failures per line, rc, product and whether a known window expects them (a stretch of time
is read in parts cut where a window's occurrence begins or ends, so that each part is
wholly inside or outside it).

Each settled whole hour of the day is read once, beside the ticks (`bot.incidents.hours`),
and kept by the monitor: one `FailureHours` per monitor, which both watches get through
`WatchContext.shared`. A tick's baseline is the kept hours and, read in its own
transaction, what they do not cover: the part of an hour at the start of the day, and the
time from the last hour kept to the window (about an hour and a half; for a tick once an
hour, an hour more, until the hour that just settled is read). While the day's hours are
being read the gaps between them are read too: what the watches decide does not change
while the hours are read. A process that may take the lead with no hour kept (after a
start, or a follower's) reads the day's hours before its tick, outside the tick's
transaction (`FailureHours.prime`), each hour a short read of its own.

An hour is read once it ended SETTLED_AFTER before the window, but a failure may still be
counted in it later: a top-up that turns failed after that, one that IAK's check turns
from failed to success, a backend forwarding a day of history with each top-up's
`created_at` (as it may while the monitor reads the day). So each tick also looks in the
history for such changes observed since the tick before (`changed_hours`: failures, and
IAK's answers to checks, that changed a transaction started in the day's hours); an hour
with one is forgotten and read again, and read live until then. Still missed: a failure
whose time moves from one kept hour to another (its `created_at` arriving after the bot
heard of it, hours later: the hour it left counts it still), and a change whose write
commits more than LATE_COMMIT after it was observed (the writer gives up before that).
Both are rare, and a day's baseline is hundreds of failures or none: one more or one fewer
moves a threshold by a fraction of a failure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import NamedTuple

from sqlalchemy import Connection, func, or_, select, true

from bot.incidents.hours import HOUR, HourReader, SettledHours, hour_of
from bot.incidents.watch import Tick, WatchContext
from bot.outcomes import Line, Outcome, Source, code_key
from bot.registry.windows import KNOWN_WINDOWS, KnownWindow
from bot.store.schema import transaction_events, transactions
from bot.store.writer import WRITE_DEADLINE

# A window is judged against the failures of the 24 hours before it.
BASELINE_SPAN = timedelta(hours=24)
# Each tick looks for changes observed since the last one, and this long before it: an
# observation commits within the writer's deadline, maybe after the tick that followed it.
LATE_COMMIT = timedelta(seconds=WRITE_DEADLINE)
t = transactions.c


class FailureKey(NamedTuple):
    """What failures are counted by."""

    line: str
    rc: str | None
    product_code: str | None
    expected: bool  # a known window expects it (IAK's scheduled cut-off)


FailureCounts = Counter[FailureKey]


def failure_counts(
    connection: Connection,
    start: datetime,
    end: datetime,
    windows: Sequence[KnownWindow] = KNOWN_WINDOWS,
) -> FailureCounts:
    """Failures that happened in [start, end), per line, rc, product and whether a known
    window expects them: one GROUP BY a part of the covering index's range, the range cut
    where a window's occurrence begins or ends."""
    counts: FailureCounts = Counter()
    for part_start, part_end in _parts(start, end, windows):
        rows = connection.execute(
            select(t.line, t.rc, t.product_code, func.count())
            .where(
                t.outcome == Outcome.FAILED.value,
                t.started_at >= part_start,
                t.started_at < part_end,
            )
            .group_by(t.line, t.rc, t.product_code)
        )
        for line, rc, product, count in rows:
            # the part is wholly inside or outside each occurrence: its start says which
            expected = any(window.covers(rc, product, part_start) for window in windows)
            counts[FailureKey(str(line), rc, product, expected)] += int(count)
    return counts


def _parts(
    start: datetime, end: datetime, windows: Sequence[KnownWindow]
) -> list[tuple[datetime, datetime]]:
    """[start, end) cut where an occurrence of a window begins or ends."""
    if start >= end:
        return []
    cuts = {start, end}
    for window in windows:
        for opens, closes in window.occurrences(start, end):
            cuts.update(edge for edge in (opens, closes) if start < edge < end)
    return list(pairwise(sorted(cuts)))


def hour_counts(connection: Connection, hour: datetime) -> FailureCounts:
    """One hour's failures, as they are kept."""
    return failure_counts(connection, hour, hour + HOUR)


def earliest_failure(connection: Connection, since: datetime) -> datetime | None:
    """When the oldest failure since `since` happened: one seek in the covering index."""
    found: datetime | None = connection.scalar(
        select(func.min(t.started_at)).where(
            t.outcome == Outcome.FAILED.value, t.started_at >= since
        )
    )
    if found is None:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def changed_hours(
    connection: Connection, since: datetime, first: datetime, end: datetime
) -> set[datetime]:
    """The hours in [first, end) in which a transaction started whose failure, or IAK's
    answer to a check (which may undo one), was observed since `since` and changed it:
    its hour's failures may have changed since the hour was read. From the history's
    (observed_at, ...) index, each found transaction looked up by its key."""
    e = transaction_events.c
    started = connection.execute(
        select(t.started_at)
        .select_from(transaction_events.join(transactions, t.ref_id == e.ref_id))
        .where(
            e.observed_at >= since,
            or_(e.outcome == Outcome.FAILED.value, e.source == Source.STATUS_CHECK.value),
            e.applied == true(),
            t.started_at >= first,
            t.started_at < end,
        )
    ).scalars()
    return {hour_of(at if at.tzinfo else at.replace(tzinfo=UTC)) for at in started}


def per_code(counts: FailureCounts) -> dict[str, int]:
    """Failures per code key (`07`, `postpaid 07`), those a known window expects left
    out: what a spike is judged against."""
    found: dict[str, int] = {}
    for key, count in counts.items():
        if key.rc and not key.expected:
            code = code_key(Line(key.line), key.rc)
            found[code] = found.get(code, 0) + count
    return found


def per_product(counts: FailureCounts, rcs: Collection[str]) -> dict[str, int]:
    """Prepaid failures with one of `rcs`, per product (`?`: none named): what a product
    outage is judged against."""
    found: dict[str, int] = {}
    for key, count in counts.items():
        if key.line == Line.PREPAID.value and key.rc in rcs:
            product = key.product_code or "?"
            found[product] = found.get(product, 0) + count
    return found


class DayOfFailures(SettledHours[FailureCounts]):
    """The day's settled hours, each kept as its failure counts, with their sum."""

    def __init__(self) -> None:
        super().__init__(BASELINE_SPAN)
        self.total: FailureCounts = Counter()

    def _count(self, value: FailureCounts, sign: int) -> None:
        for key, count in value.items():
            left = self.total[key] + sign * count
            if left > 0:
                self.total[key] = left
            else:
                del self.total[key]


class FailureHours:
    """The failures of the 24 hours before the window, from hours read once beside the
    ticks: one per monitor (`WatchContext.shared(FailureHours)`), for the spike and the
    product watch alike."""

    def __init__(self, context: WatchContext) -> None:
        self.hours = DayOfFailures()
        self.reader = HourReader(
            self.hours,
            context,
            hour_counts,
            empty=Counter,
            earliest=earliest_failure,
            task="monitor-failure-hours",
            what="the failures per hour",
        )
        # when the last tick looked for changes to the hours kept
        self._checked_to: datetime | None = None
        self.window = context.config.spike_window
        context.before_tick(self.prime, wanted=lambda: not self.hours.hours)
        # the last tick's baseline: the second watch to ask in a tick reads nothing
        self._tick: Tick | None = None
        self._window_start: datetime | None = None
        self._baseline: FailureCounts = Counter()

    def prime(self, connection: Connection, now: datetime) -> None:
        """Before a tick this process may lead, with no hour kept: read the day's hours
        now, one short read each, so that the tick reads only what they do not cover."""
        self.reader.read_now(connection, now - self.window)

    def baseline(self, tick: Tick, window_start: datetime) -> FailureCounts:
        """The failures in [window_start - 24 h, window_start), read once a tick."""
        if self._tick is not tick or self._window_start != window_start:
            self._baseline = self._read(tick, window_start)
            self._tick, self._window_start = tick, window_start
        return self._baseline

    def _read(self, tick: Tick, window_start: datetime) -> FailureCounts:
        """The kept hours, and what they do not cover read now (the whole day, in one
        read, while none is kept: without reads outside the ticks)."""
        connection = tick.connection
        self.reader.take(window_start)
        if self._checked_to is not None:
            first, last = self.hours.span(window_start)
            since = self._checked_to - LATE_COMMIT
            self.reader.forget(changed_hours(connection, since, first, last))
        self._checked_to = tick.now
        self.reader.ask(tick, window_start)
        if not self.hours.hours:
            return failure_counts(connection, window_start - BASELINE_SPAN, window_start)
        counts = Counter(self.hours.total)
        for start, end in self.hours.unkept(window_start):
            counts.update(failure_counts(connection, start, end))
        return counts
