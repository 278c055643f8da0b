"""The monitor: the only part of the incidents that does I/O on a timer.

Every MONITOR_INTERVAL_SECONDS it renews its lease (only the lease holder acts, however
many processes run it) and, in that same database transaction, runs every kind's watch in
turn (`bot.incidents.kinds`): each gathers what its kind needs, asks its pure `decide`, and
writes the changes with their outbox rows. Then the follow-ups every kind shares. Re-checks
at IAK run beside the ticks, never more than 3 at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Protocol, cast

from sqlalchemy import Connection, Engine

from bot.checks import TransactionChecks
from bot.clock import Clock
from bot.iak.client import IakClient
from bot.incidents import kinds
from bot.incidents.config import MonitorConfig
from bot.incidents.follow_up import decide_follow_up
from bot.incidents.model import IncidentKind
from bot.incidents.rechecks import Recheck, due_rechecks, next_check, waiting_members
from bot.incidents.repository import IncidentRepository
from bot.incidents.watch import KindModule, Tick, TickReport, Watch, WatchContext
from bot.outcomes import Line
from bot.price_lists import PriceLists
from bot.registry import Registry
from bot.store.database import Database
from bot.store.retention import RUN_EVERY, Retention, RetentionPolicy, RetentionReport
from bot.store.transactions import record_recheck

log = logging.getLogger(__name__)

# Fewer than the IAK client's own cap, so a person's /iak status always finds a slot.
RECHECKS_IN_FLIGHT = 3
RECHECK_BUDGET_PER_TICK = 60
# Another process takes over once the holder has missed this many ticks.
LEASE_TICKS = 3


class TickMetrics(Protocol):
    """What the monitor counts (`bot.metrics.Metrics`)."""

    def monitor_tick(self, seconds: float, *, leader: bool) -> None:
        """A tick took `seconds`, holding the lease or not."""

    def monitor_tick_failed(self) -> None:
        """A tick failed."""

    def retention_ran(self, report: RetentionReport) -> None:
        """A retention run deleted and blanked what it reports."""


def holder_name() -> str:
    """Who this monitor is, for the lease: the platform's process name (Heroku's DYNO, such
    as web.1), the pid and a nonce, since one process may run several (tests do) and a
    restarted process may get its old pid back. No host name: /healthz shows it."""
    return f"{os.environ.get('DYNO', 'process')}:{os.getpid()}:{secrets.token_hex(3)}"


def watches(context: WatchContext) -> list[Watch]:
    """Every kind's watch that this configuration runs, in `IncidentKind`'s order."""
    found = []
    for kind in IncidentKind:
        watch = cast(KindModule, kinds.module(kind)).watch(context)
        if watch is not None:
            found.append(watch)
    return found


class Monitor:
    """Runs every kind's watch on a timer, as the lease holder, and re-checks pending
    top-ups."""

    def __init__(
        self,
        *,
        database: Database,
        incidents: IncidentRepository,
        registry: Registry,
        clock: Clock,
        config: MonitorConfig,
        channel: str,
        iak: IakClient | None,
        holder: str | None = None,
        metrics: TickMetrics | None = None,
        price_lists: PriceLists | None = None,
    ) -> None:
        self.database = database
        self.incidents = incidents
        self.registry = registry
        self.clock = clock
        self.config = config
        self.channel = channel
        self.iak = iak
        self.holder = holder or holder_name()
        self.metrics = metrics
        self.is_leader = False
        # Rounds finished, led or not, failed or not: something to wait on, where a test or
        # an operator would otherwise guess how long "a few ticks" take.
        self.ticks = 0
        # when the lease this process holds runs out, as of its last committed renewal
        self.lease_expires_at: datetime | None = None
        self.last_tick_at: datetime | None = None
        # told after every tick that holds the lease (the notifier then delivers at once)
        self.on_lead: Callable[[], None] | None = None
        # work the watches started beside the ticks (cancelled on stop)
        self._beside: set[asyncio.Task[None]] = set()
        self.context = WatchContext(
            config, registry, price_lists=price_lists, spawn=self._spawn, engine=database.engine
        )
        self.watches = watches(self.context)
        self._rechecks: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # RETENTION_DAYS: deleted and blanked by the leader, beside the ticks, hourly
        policy = RetentionPolicy.of_days(config.retention_days)
        self.retention = Retention(database.engine, policy) if policy else None
        self._retention: asyncio.Task[None] | None = None
        self._retention_due: datetime | None = None

    @property
    def engine(self) -> Engine:
        """The database engine."""
        return self.database.engine

    @property
    def lease_ttl(self) -> timedelta:
        """How long a lease lasts without renewal."""
        if self.config.lease is not None:
            return self.config.lease
        return max(self.config.interval * LEASE_TICKS, timedelta(seconds=1))

    def holds_lease(self, now: datetime, margin: timedelta) -> bool:
        """Whether this process is sure to hold the lease for `margin` more: no other
        process can take it over before it expires."""
        expires = self.lease_expires_at
        return self.is_leader and expires is not None and expires - margin > now

    async def run(self) -> None:
        """Tick until stopped; a failing tick is logged and the next one tries again."""
        while not self._stopping.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("monitor tick failed")
                if self.metrics is not None:
                    self.metrics.monitor_tick_failed()
                self.is_leader = False
                self.lease_expires_at = None
            self.ticks += 1
            await self._pause(self.config.interval)

    async def _pause(self, length: timedelta) -> None:
        """Wait `length` on the clock, or until stopped."""
        waits = [
            asyncio.ensure_future(self.clock.sleep(length.total_seconds())),
            asyncio.ensure_future(self._stopping.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    def _spawn(self, work: Coroutine[object, object, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=name)
        self._beside.add(task)
        task.add_done_callback(self._beside.discard)
        return task

    async def stop_ticking(self) -> None:
        """Stop deciding and re-checking; the lease is kept until `release`."""
        self._stopping.set()
        # a retention run stops after its batch in progress (a thread is not cancelled)
        await self.retention_finished()
        for task in (self._rechecks, *self._beside):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def release(self) -> None:
        """Hand the lease over, so another process takes over at its next tick."""
        if self.is_leader:
            await asyncio.to_thread(self.incidents.release_lease, self.holder, self.clock.now())
        self.is_leader = False
        self.lease_expires_at = None

    async def stop(self) -> None:
        """Stop ticking and hand the lease over."""
        await self.stop_ticking()
        await self.release()

    async def tick(self) -> TickReport:
        """One decision round, then start re-checks if the last batch is done."""
        now = self.clock.now()
        await self.read_before(now)
        # What it costs in real time, whatever the injected clock says: a measurement.
        started = time.perf_counter()
        report = await asyncio.to_thread(self._decide_and_write, now)
        if self.metrics is not None:
            self.metrics.monitor_tick(time.perf_counter() - started, leader=report.leader)
        self.is_leader = report.leader
        # The database judges the lease by its clock, from the renewal on; this process by
        # its own, from before the renewal: it believes it leads no longer than it does.
        self.lease_expires_at = now + self.lease_ttl if report.leader else None
        if report.leader:
            self.last_tick_at = now
            for callback in report.after_commit:
                callback()
            if self.on_lead is not None:
                self.on_lead()
            if self.iak is not None and (self._rechecks is None or self._rechecks.done()):
                self._rechecks = asyncio.create_task(self.recheck(), name="monitor-rechecks")
            self._start_retention(now)
        for name in report.opened:
            log.info("incident opened: %s", name)
        for name in report.resolved:
            log.info("incident resolved: %s", name)
        return report

    async def read_before(self, now: datetime) -> None:
        """The reads the watches want before a tick, outside its transaction, when this
        process leads or the lease is free (a failing read is logged: the tick then reads
        what it needs itself)."""
        reads = self.context.reads_before_tick()
        if reads:
            try:
                await asyncio.to_thread(self._read_before, reads, now)
            except Exception:
                log.warning("could not read before the tick", exc_info=True)

    def _read_before(
        self, reads: list[Callable[[Connection, datetime], None]], now: datetime
    ) -> None:
        lease = self.incidents.leader()
        if lease is not None and lease.live and lease.holder != self.holder:
            return  # another process leads
        with self.engine.connect() as connection:
            for read in reads:
                read(connection, now)

    def _decide_and_write(self, now: datetime) -> TickReport:
        repository = self.incidents
        with repository.writing() as connection:
            # Renewing inside the same transaction fences a holder that stalled past its
            # lease: its writes cannot commit once another process holds the lease.
            if not repository.renew_lease(connection, self.holder, now, self.lease_ttl):
                return TickReport(leader=False)
            report = TickReport(leader=True)
            tick = Tick(connection, now, repository, self.channel, report)
            for watch in self.watches:
                watch.run(tick)
            report.queued += repository.release_held_parents(connection, now)
            for incident in repository.open_now(connection):
                follow_up = decide_follow_up(incident, now, self.config)
                if follow_up is not None:
                    repository.apply_follow_up(connection, follow_up, now)
                    report.queued += len(follow_up.intents)
            return report

    def _start_retention(self, now: datetime) -> None:
        """Start a retention run beside the ticks when one is due: when this process takes
        the lead, then hourly. It commits a batch at a time, for as long as it leads."""
        if self.retention is None or (self._retention and not self._retention.done()):
            return
        if self._retention_due is not None and now < self._retention_due:
            return
        self._retention_due = now + RUN_EVERY
        self._retention = asyncio.create_task(self._retain(now), name="monitor-retention")

    async def _retain(self, now: datetime) -> None:
        retention = self.retention
        if retention is None:
            return
        started = time.perf_counter()
        try:
            report = await asyncio.to_thread(retention.run, now, self._may_retain)
        except Exception:
            log.exception("retention failed (tried again within the hour)")
            self._retention_due = now + self.config.interval
            return
        log.info(
            "retention deleted %d rows and blanked %d in %.1f s: %s",
            report.deleted,
            report.blanked,
            time.perf_counter() - started,
            report.summary(),
        )
        if report.interrupted:
            # whatever was left waits only a few ticks, not the hour
            self._retention_due = now + self.config.interval * LEASE_TICKS
        if self.metrics is not None:
            self.metrics.retention_ran(report)

    def _may_retain(self) -> bool:
        """Whether a retention run may take another batch (asked from its thread): while
        this process is sure to hold the lease for a tick more, and is not stopping."""
        return not self._stopping.is_set() and self.holds_lease(
            self.clock.now(), self.config.interval
        )

    async def beside_finished(self) -> None:
        """Wait for the work the watches started beside the ticks (hours read, a price list
        fetched) to finish."""
        await asyncio.gather(*self._beside, return_exceptions=True)

    async def retention_finished(self) -> None:
        """Wait for the retention run in progress, if any, to finish."""
        if self._retention is not None:
            await asyncio.gather(self._retention, return_exceptions=True)

    async def recheck(self) -> None:
        """Ask IAK about pending transactions that are due, a bounded number at a time."""
        if self.iak is None:
            return
        due = await asyncio.to_thread(self._due, self.clock.now())
        await self.recheck_now(due)

    async def recheck_now(self, items: list[Recheck]) -> int:
        """Check these transactions at IAK, each through its line's check-status, a few at
        a time; record what IAK says and when to ask next. Returns how many IAK answered."""
        iak = self.iak
        if iak is None or not items:
            return 0
        gate = asyncio.Semaphore(RECHECKS_IN_FLIGHT)

        checker = TransactionChecks(iak, self.database, self.clock)

        async def check(ref_id: str, started: datetime, checks: int, line: Line) -> bool:
            async with gate:
                if self._stopping.is_set():
                    return False
                checked = await checker.recheck(ref_id, line)
                at = self.clock.now()
                next_at = next_check(started, checks + 1, at, self.config)
                await asyncio.to_thread(self._record_check, ref_id, checks + 1, next_at, at)
                return checked.answered

        results = await asyncio.gather(*(check(*item) for item in items), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            log.warning("%d of %d re-checks failed: %s", len(failures), len(items), failures[0])
        return sum(1 for r in results if r is True)

    async def waiting_in(self, incident_id: int, limit: int) -> list[Recheck]:
        """The transactions still waiting in a pending incident (at most `limit`), in the
        form `recheck_now` takes."""
        return await asyncio.to_thread(self._waiting, incident_id, limit)

    def _waiting(self, incident_id: int, limit: int) -> list[Recheck]:
        with self.engine.connect() as connection:
            return waiting_members(connection, incident_id, limit)

    def _due(self, now: datetime) -> list[Recheck]:
        with self.engine.connect() as connection:
            return due_rechecks(connection, now, self.config, RECHECK_BUDGET_PER_TICK)

    def _record_check(
        self, ref_id: str, checks: int, next_at: datetime | None, now: datetime
    ) -> None:
        with self.engine.connect().execution_options(write=True) as connection, connection.begin():
            record_recheck(connection, ref_id, checks, next_at, now)
