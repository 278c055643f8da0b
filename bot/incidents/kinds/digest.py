"""The daily digest: how one WIB day went, posted to the ops channel once DIGEST_TIME has
come the next day. Not trouble: it is recorded as a post that is over as it opens (unique
per day, so neither a second process nor a restart posts it twice), delivered by the same
outbox, with its chart uploaded into its thread.

Its figures read the day's transactions and a week of outcomes: at a large reseller's size
(1,000,000 top-ups a day) seconds of reading. So the tick that finds it due only asks for
them; they are gathered beside the ticks, in a read transaction of their own (on SQLite the
tick's transaction holds the write lock every callback waits for), and the next tick
records the digest: it posts one tick after DIGEST_TIME."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from statistics import median
from typing import ClassVar

from sqlalchemy import Connection

from bot.clock import WIB, wib_day
from bot.incidents.model import (
    Details,
    IncidentChange,
    IncidentKind,
    PostParent,
    Reply,
    ThreadReply,
)
from bot.incidents.repository import IncidentRepository
from bot.incidents.watch import Tick, WatchContext
from bot.outcomes import Outcome
from bot.store import reports

log = logging.getLogger(__name__)

KIND = IncidentKind.DIGEST


@dataclass(frozen=True)
class CodeCount:
    """Failures of one rc (None: IAK gave no rc)."""

    rc: str | None
    count: int


@dataclass(frozen=True)
class ProductFailures:
    """One product's transactions and failures over a day."""

    product_code: str
    transactions: int
    failures: int

    @property
    def rate(self) -> float:
        """The share of its transactions that failed."""
        return self.failures / self.transactions if self.transactions else 0.0


@dataclass(frozen=True)
class DigestDetails(Details):
    """How one WIB day went: the figures of the daily digest, gathered once when it is due
    (pending counts and the balance are as of then)."""

    day: date
    gathered_at: datetime
    # current outcome (Outcome's value) of every transaction that happened that day
    outcomes: dict[str, int]
    # successes among final transactions over the 7 days before; None without any
    week_success_rate: float | None
    failure_codes: tuple[CodeCount, ...]  # most failures first
    other_failures: int  # failures of codes not listed
    worst_products: tuple[ProductFailures, ...]  # highest failure rate first
    min_product_volume: int  # fewer transactions than this never make the list
    pending_from_day: int  # that day's transactions still not final
    pending_now: int  # every transaction not final
    oldest_pending_at: datetime | None
    spent: int  # IDR: the prices of that day's successful sales
    balance: int | None  # the deposit IAK last reported, and when
    balance_at: datetime | None
    incidents_opened: int
    incidents_resolved: int
    acknowledged: int  # of the incidents opened that day
    median_ack_seconds: float | None
    # per WIB hour, 00-01 first: transactions that happened, and those that failed
    hourly_transactions: tuple[int, ...]
    hourly_failures: tuple[int, ...]

    @property
    def transactions(self) -> int:
        """Transactions that happened that day."""
        return sum(self.outcomes.values())

    @property
    def success_rate(self) -> float | None:
        """Successes among that day's final transactions; None without any."""
        success = self.outcomes.get(Outcome.SUCCESS.value, 0)
        final = success + self.outcomes.get(Outcome.FAILED.value, 0)
        return success / final if final else None

    @property
    def failures(self) -> int:
        """That day's failed transactions."""
        return self.outcomes.get(Outcome.FAILED.value, 0)

    @property
    def days_left(self) -> float | None:
        """How many days the balance lasts at that day's spending; None if unknown."""
        if self.balance is None or self.spent <= 0:
            return None
        return self.balance / self.spent


@dataclass(frozen=True)
class DigestChart(Reply):
    """The digest's chart (drawn from its figures when sent), uploaded into its thread."""

    kind: ClassVar[str] = "digest_chart"
    kept_when_stale: ClassVar[bool] = True


DETAILS = DigestDetails
REPLIES = (DigestChart,)


# --- The decision (pure) -------------------------------------------------------------------


def digest_due(now: datetime, at: time | None) -> date | None:
    """The WIB day whose digest is due: yesterday, once today's DIGEST_TIME has come.

    It stays due for the rest of the day, so a digest no process was up to post at that
    minute goes out when one comes back; the day after, it is too late to be news.
    """
    if at is None:
        return None
    local = now.astimezone(WIB)
    if local.time() < at:
        return None
    return local.date() - timedelta(days=1)


def digest_change(details: DigestDetails) -> IncidentChange:
    """The digest as a post: the message, then its chart in the thread."""
    intents = (PostParent(), ThreadReply(DigestChart()))
    return IncidentChange(KIND, details.day.isoformat(), None, details, intents, resolve=True)


# --- What it gathers (SQL, beside the ticks) ---------------------------------------------------

DIGEST_CODES = 8
DIGEST_PRODUCTS = 5
# A product's failure rate means something only over this many of its transactions.
DIGEST_MIN_PRODUCT_VOLUME = 10
_WEEK = 7


def digest_details(
    connection: Connection, incidents: IncidentRepository, day: date, now: datetime
) -> DigestDetails:
    """The figures of one WIB day's digest, as the store holds them at `now`."""
    start, end = wib_day(day)
    outcomes = reports.outcome_counts(connection, start, end)
    week = reports.outcome_counts(connection, start - timedelta(days=_WEEK), start)
    week_final = week[Outcome.SUCCESS] + week[Outcome.FAILED]
    codes = sorted(
        (
            CodeCount(rc, count)
            for rc, count in reports.failure_codes(connection, start, end).items()
        ),
        key=lambda code: (-code.count, code.rc or ""),
    )
    products = sorted(
        (
            ProductFailures(volume.product_code, volume.transactions, volume.failures)
            for volume in reports.product_volumes(
                connection, start, end, min_transactions=DIGEST_MIN_PRODUCT_VOLUME
            )
        ),
        key=lambda product: (-product.rate, -product.failures, product.product_code),
    )
    from_day, _oldest = reports.pending_count(connection, start, end)
    pending_now, oldest = reports.pending_count(connection)
    balance = reports.latest_balance(connection)
    incident_day = incidents.incident_day(connection, start, end)
    hourly, hourly_failed = reports.activity_by_bucket(
        connection, reports.TimeBuckets(start, end, 24)
    )
    return DigestDetails(
        day=day,
        gathered_at=now,
        outcomes={outcome.value: count for outcome, count in outcomes.items()},
        week_success_rate=week[Outcome.SUCCESS] / week_final if week_final else None,
        failure_codes=tuple(codes[:DIGEST_CODES]),
        other_failures=sum(code.count for code in codes[DIGEST_CODES:]),
        worst_products=tuple(products[:DIGEST_PRODUCTS]),
        min_product_volume=DIGEST_MIN_PRODUCT_VOLUME,
        pending_from_day=from_day,
        pending_now=pending_now,
        oldest_pending_at=oldest,
        spent=reports.sales_total(connection, start, end),
        balance=balance[0] if balance else None,
        balance_at=balance[1] if balance else None,
        incidents_opened=incident_day.opened,
        incidents_resolved=incident_day.resolved,
        acknowledged=len(incident_day.ack_seconds),
        median_ack_seconds=median(incident_day.ack_seconds) if incident_day.ack_seconds else None,
        hourly_transactions=tuple(hourly),
        hourly_failures=tuple(hourly_failed),
    )


# --- The watch ---------------------------------------------------------------------------------


class DigestWatch:
    """Queues the digest of the day it is due for, unless it is recorded already or the
    bot had heard of no transaction by the end of that day (a fresh install): gathered
    beside the ticks once it is due, recorded by the tick after."""

    def __init__(self, context: WatchContext, at: time) -> None:
        self.at = at
        self.engine = context.engine
        self.spawn = context.spawn
        self._gathering: asyncio.Task[None] | None = None
        self._gathered: DigestDetails | None = None

    def run(self, tick: Tick) -> None:
        """One tick: the due day's digest, gathered once and queued once."""
        day = digest_due(tick.now, self.at)
        if day is None or tick.incidents.recorded(tick.connection, KIND, day.isoformat()):
            self._gathered = None
            return
        if not reports.happened_before(tick.connection, wib_day(day)[1]):
            return  # a day before the bot heard of any transaction: nothing to sum up
        details = self._gathered
        if self.engine is None:  # no reads beside the ticks: gathered in this one
            details = digest_details(tick.connection, tick.incidents, day, tick.now)
        elif details is None or details.day != day:
            incidents, now = tick.incidents, tick.now
            tick.after_commit(lambda: self._gather(incidents, day, now))
            return
        if tick.incidents.record_once(
            tick.connection, digest_change(details), tick.now, tick.channel
        ):
            log.info("daily digest for %s queued", day.isoformat())
            tick.report.queued += 2

    def _gather(self, incidents: IncidentRepository, day: date, now: datetime) -> None:
        """Gather the day's figures beside the ticks, unless that is under way."""
        if self._gathering is not None and not self._gathering.done():
            return
        self._gathering = self.spawn(self._read(incidents, day, now), "monitor-digest")

    async def _read(self, incidents: IncidentRepository, day: date, now: datetime) -> None:
        engine = self.engine
        assert engine is not None

        def read() -> DigestDetails:
            with engine.connect() as connection:
                return digest_details(connection, incidents, day, now)

        try:
            self._gathered = await asyncio.to_thread(read)
        except Exception:
            log.warning("could not gather the digest for %s", day.isoformat(), exc_info=True)


def watch(context: WatchContext) -> DigestWatch | None:
    """The digest watch; None without DIGEST_TIME."""
    at = context.config.digest_time
    return DigestWatch(context, at) if at is not None else None
