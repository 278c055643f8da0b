"""The monitor loop: the only part of the monitor that does I/O.

Every MONITOR_INTERVAL_SECONDS it renews its lease (only the lease holder acts, however
many processes run it), gathers a snapshot in one database transaction, asks the pure
decisions what changes, and writes the changes with their outbox rows in that same
transaction. Re-checks at IAK run beside the ticks, never more than 3 at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from bot.alerts.model import IncidentChange, IncidentKind
from bot.alerts.repository import IncidentRepository
from bot.clock import Clock
from bot.iak.client import IakClient
from bot.metrics import Metrics
from bot.monitor import queries
from bot.monitor.decisions import (
    PRODUCT_LEVEL_RCS,
    MonitorConfig,
    RcActivity,
    decide_callbacks,
    decide_conflict,
    decide_deposit,
    decide_follow_up,
    decide_pending,
    decide_product_outage,
    decide_serial,
    decide_spike,
    digest_due,
    next_check,
    offer_for,
    opening_threshold,
    serials_checked_until,
    serials_since,
)
from bot.monitor.queries import Recheck
from bot.outcomes import Line, Source, split_code_key
from bot.price_lists import PriceLists
from bot.registry import Registry
from bot.store.database import Database
from bot.store.states import Observation

log = logging.getLogger(__name__)

# Fewer than the IAK client's own cap, so a person's /iak status always finds a slot.
RECHECKS_IN_FLIGHT = 3
RECHECK_BUDGET_PER_TICK = 60
# Another process takes over once the holder has missed this many ticks.
LEASE_TICKS = 3
# A price list fetched for a product outage's alternatives, beside the ticks, never waits
# longer than this.
PRICE_LIST_DEADLINE = 30.0


@dataclass
class TickReport:
    """What one tick did."""

    leader: bool
    opened: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    queued: int = 0
    # where the next tick's look for serial numbers delivered twice starts
    serials_checked_until: datetime | None = None


def holder_name() -> str:
    """Who this monitor is, for the lease: the platform's process name (Heroku's DYNO, such
    as web.1), the pid and a nonce, since one process may run several (tests do) and a
    restarted process may get its old pid back. No host name: /healthz shows it."""
    return f"{os.environ.get('DYNO', 'process')}:{os.getpid()}:{secrets.token_hex(3)}"


class Monitor:
    """Runs the decisions on a timer, as the lease holder, and re-checks pending top-ups."""

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
        metrics: Metrics | None = None,
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
        # when the lease this process holds runs out, as of its last committed renewal
        self.lease_expires_at: datetime | None = None
        self.last_tick_at: datetime | None = None
        # told after every tick that holds the lease (the notifier then delivers at once)
        self.on_lead: Callable[[], None] | None = None
        # where a product outage finds its alternatives (None: it names none)
        self.price_lists = price_lists
        # a tick found a product outage and no price list cached: fetch one beside the ticks
        self._price_list_wanted = False
        self._price_list_fetch: asyncio.Task[None] | None = None
        # where the last tick's look for serial numbers delivered twice ended (None: look
        # back as far as that look ever goes)
        self._serials_checked_until: datetime | None = None
        self._rechecks: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

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

    async def stop_ticking(self) -> None:
        """Stop deciding and re-checking; the lease is kept until `release`."""
        self._stopping.set()
        for task in (self._rechecks, self._price_list_fetch):
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
        # What it costs in real time, whatever the injected clock says: a measurement.
        started = time.perf_counter()
        report = await asyncio.to_thread(self._decide_and_write, now)
        if self.metrics is not None:
            self.metrics.monitor_tick(time.perf_counter() - started, leader=report.leader)
        self.is_leader = report.leader
        self.lease_expires_at = now + self.lease_ttl if report.leader else None
        if report.leader:
            self.last_tick_at = now
            self._serials_checked_until = report.serials_checked_until
            if self.on_lead is not None:
                self.on_lead()
            if self.iak is not None and (self._rechecks is None or self._rechecks.done()):
                self._rechecks = asyncio.create_task(self.recheck(), name="monitor-rechecks")
            self._fetch_price_list_if_wanted()
        for name in report.opened:
            log.info("incident opened: %s", name)
        for name in report.resolved:
            log.info("incident resolved: %s", name)
        return report

    def _decide_and_write(self, now: datetime) -> TickReport:
        repository = self.incidents
        with repository.writing() as connection:
            # Renewing inside the same transaction fences a holder that stalled past its
            # lease: its writes cannot commit once another process holds the lease.
            if not repository.renew_lease(connection, self.holder, now, now + self.lease_ttl):
                return TickReport(leader=False)
            report = TickReport(leader=True)
            changes: list[IncidentChange] = []

            pending_incident = repository.open_incident(
                connection, IncidentKind.PENDING, IncidentKind.PENDING.value
            )
            snapshot = queries.pending_snapshot(connection, pending_incident, now, self.config)
            pending = decide_pending(snapshot, now)

            spikes = repository.open_incidents_of(connection, IncidentKind.SPIKE)

            def may_open(key: str, count: int, baseline: int) -> bool:
                line, rc = split_code_key(key)
                activity = RcActivity(rc, count, baseline, line=line)
                return count >= opening_threshold(activity, self.config, self._stops_sales(key))

            def may_open_spike(rc: str, count: int, baseline: int) -> bool:
                # product-level codes are told per product (below)
                return rc not in PRODUCT_LEVEL_RCS and may_open(rc, count, baseline)

            for activity in queries.rc_activity(
                connection, now, self.config, spikes, may_open_spike
            ):
                change = decide_spike(
                    activity,
                    spikes.get(activity.key),
                    now,
                    self.config,
                    stops_sales=self._stops_sales(activity.key),
                )
                if change is not None:
                    changes.append(change)

            open_conflicts = repository.open_incidents_of(connection, IncidentKind.CONFLICT)
            for disagreement in queries.conflicts(connection, open_conflicts):
                conflict = decide_conflict(disagreement, now)
                if conflict is not None:
                    changes.append(conflict)

            changes += self._product_outages(connection, now)

            open_serials = repository.open_incidents_of(connection, IncidentKind.SERIAL)
            since = serials_since(self._serials_checked_until, now)
            until = queries.serial_scan_end(connection, since, queries.SERIAL_SCAN_PER_TICK)
            report.serials_checked_until = serials_checked_until(until, now)
            for delivered in queries.serial_snapshots(connection, since, until, open_serials):
                serial = decide_serial(delivered, now)
                if serial is not None:
                    changes.append(serial)

            deposit = repository.open_incident(
                connection, IncidentKind.DEPOSIT, IncidentKind.DEPOSIT.value
            )
            reading = (
                queries.deposit_reading(connection, now)
                if self.config.low_balance_threshold is not None
                else None
            )
            deposit_change = decide_deposit(
                reading, deposit, now, self.config.low_balance_threshold
            )
            if deposit_change is not None:
                changes.append(deposit_change)

            if self.config.watch_callbacks:
                callbacks = repository.open_incident(
                    connection, IncidentKind.CALLBACKS, IncidentKind.CALLBACKS.value
                )
                heard = queries.callback_activity(connection, now)
                callbacks_change = decide_callbacks(heard, callbacks, now, self.config)
                if callbacks_change is not None:
                    changes.append(callbacks_change)
                queries.prune_refusals(connection, now)

            if pending.change is not None:
                incident_id = repository.apply_change(connection, pending.change, now, self.channel)
                queries.set_members(connection, pending.join, incident_id=incident_id)
                queries.set_members(connection, pending.announce, announced=True)
                self._note(report, pending.change)
            for change in changes:
                repository.apply_change(connection, change, now, self.channel)
                self._note(report, change)
            report.queued += repository.release_held_parents(connection, now)
            report.queued += self._record_digest(connection, now)
            for incident in repository.open_now(connection):
                follow_up = decide_follow_up(incident, now, self.config)
                if follow_up is not None:
                    repository.apply_follow_up(connection, follow_up, now)
                    report.queued += len(follow_up.intents)
            return report

    def _record_digest(self, connection: Connection, now: datetime) -> int:
        """Queue the digest of the day it is due for, unless it is queued already: the
        digest row is unique per day, so neither a second process nor a restart can post
        it twice. Returns how many outbox rows it queued."""
        day = digest_due(now, self.config.digest_time)
        if day is None or self.incidents.has_digest(connection, day):
            return 0
        details = queries.digest_details(connection, self.incidents, day, now)
        if self.incidents.record_digest(connection, details, now, self.channel) is None:
            return 0
        log.info("daily digest for %s queued", day.isoformat())
        return 2

    def _product_outages(self, connection: Connection, now: datetime) -> list[IncidentChange]:
        """Products failing as out of service or unknown: one incident each, offering what
        the cached price list has instead (never fetched inside the tick)."""
        outages = self.incidents.open_incidents_of(connection, IncidentKind.PRODUCT)

        def may_open(code: str, count: int, baseline: int) -> bool:
            activity = RcActivity(code, count, baseline)
            return count >= opening_threshold(activity, self.config, stops_sales=False)

        activities = queries.product_activity(
            connection, now, self.config, PRODUCT_LEVEL_RCS, outages, may_open
        )
        if not activities:
            return []
        products, fetched_at = None, None
        if self.price_lists is not None:
            view = self.price_lists.cached_now(Line.PREPAID)
            products, fetched_at = view.products, view.fetched_at
            self._price_list_wanted = products is None
        changes = []
        for activity in activities:
            code = activity.product_code
            offer = offer_for(code, products, fetched_at)
            change = decide_product_outage(activity, outages.get(code), now, self.config, offer)
            if change is not None:
                changes.append(change)
        return changes

    def _fetch_price_list_if_wanted(self) -> None:
        """Fetch the prepaid price list beside the ticks, with a deadline, when an outage
        found none cached; the next tick offers its alternatives."""
        price_lists = self.price_lists
        if price_lists is None or not self._price_list_wanted:
            return
        if self._price_list_fetch is not None and not self._price_list_fetch.done():
            return
        self._price_list_wanted = False

        async def fetch() -> None:
            try:
                await asyncio.wait_for(price_lists.current([Line.PREPAID]), PRICE_LIST_DEADLINE)
            except Exception:
                log.warning(
                    "could not fetch the price list for an outage's alternatives", exc_info=True
                )

        self._price_list_fetch = asyncio.create_task(fetch(), name="monitor-price-list")

    def _stops_sales(self, key: str) -> bool:
        line, rc = split_code_key(key)
        code = self.registry.rc(rc, line=line)
        return bool(code and code.stops_sales)

    @staticmethod
    def _note(report: TickReport, change: IncidentChange) -> None:
        name = f"{change.kind.value}:{change.key}"
        if change.incident_id is None:
            report.opened.append(name)
        if change.resolve:
            report.resolved.append(name)
        report.queued += len(change.intents)

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

        async def check(ref_id: str, started: datetime, checks: int, line: Line) -> bool:
            async with gate:
                if self._stopping.is_set():
                    return False
                observation: Observation | None = None
                if line is Line.POSTPAID:
                    bill = await iak.check_postpaid_status(ref_id)
                    failure = bill.failure
                    at = self.clock.now()
                    if bill.bill is not None:
                        observation = Observation(
                            Source.STATUS_CHECK, bill.bill, bill.outcome.stored, at, line=line
                        )
                else:
                    result = await iak.check_status(ref_id)
                    failure = result.failure
                    at = self.clock.now()
                    if result.transaction is not None:
                        observation = Observation(
                            Source.STATUS_CHECK, result.transaction, result.outcome, at
                        )
                if observation is not None:
                    await self.database.writer.enqueue(observation)
                next_at = next_check(started, checks + 1, at, self.config)
                await asyncio.to_thread(self._record_check, ref_id, checks + 1, next_at, at)
                return failure is None

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
            return queries.waiting_members(connection, incident_id, limit)

    def _due(self, now: datetime) -> list[Recheck]:
        with self.engine.connect() as connection:
            return queries.due_rechecks(connection, now, self.config, RECHECK_BUDGET_PER_TICK)

    def _record_check(
        self, ref_id: str, checks: int, next_at: datetime | None, now: datetime
    ) -> None:
        with self.engine.connect().execution_options(write=True) as connection, connection.begin():
            queries.record_check(connection, ref_id, checks, next_at, now)
