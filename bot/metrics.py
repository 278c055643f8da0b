"""Prometheus metrics: what the bot counts as it works, and what `GET /metrics` shows.

Two kinds of figures, kept apart on purpose:

- Events counted by the process that saw them (slash commands, callbacks, IAK calls,
  monitor ticks): counters and histograms in `Metrics`. Under `serve` with several worker
  processes, prometheus_client's multiprocess mode keeps each process's values in files in
  PROMETHEUS_MULTIPROC_DIR, and whichever worker answers a scrape adds them all up.
- States that the database holds (the outbox, open incidents, pending transactions, the
  deposit): read from the database when Prometheus scrapes (`StoreGauges`). Every worker
  then answers the same truth whichever one the router picks, however leadership of the
  monitor moves, and nothing on the callback path pays for them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from bot.clock import Clock
from bot.incidents.model import IncidentKind
from bot.incidents.repository import IncidentRepository
from bot.outcomes import NOT_FINAL, Outcome
from bot.registry import Registry
from bot.store import reports
from bot.store.database import Database
from bot.store.retention import RetentionReport

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# A scrape waits this long for the database before answering without its gauges.
STORE_TIMEOUT = 3.0
# However many scrapers there are, the database is asked at most this often.
STORE_MAX_AGE = 1.0

# Slack wants an ack within 3 s: the buckets are fine below it and end just past it.
COMMAND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0)
# An IAK call may take up to its 10 s deadline, retries included.
IAK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 12.0)
TICK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Label values for "not there": a refused request has no outcome and no rc.
NONE = "none"
# An rc IAK's tables do not know: one label value for all, so that a sender cannot make up
# new time series at will.
OTHER = "other"


class Metrics:
    """The counters and histograms of one process; one per process, built with the bot."""

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._known_rcs = (
            frozenset(code.code for code in registry.response_codes()) if registry else frozenset()
        )
        self.slash_commands = Histogram(
            "iak_bot_slash_command_seconds",
            "Time from a /iak command's arrival to its ack, by subcommand.",
            ["subcommand"],
            buckets=COMMAND_BUCKETS,
            registry=self.registry,
        )
        self.intake = Counter(
            "iak_bot_intake_requests",
            "IAK callbacks and forwarded answers, by route, stored outcome, rc and HTTP answer.",
            ["route", "outcome", "rc", "status"],
            registry=self.registry,
        )
        self.iak_calls = Counter(
            "iak_bot_iak_calls",
            "Calls to IAK's APIs by endpoint and result: ok, or why no usable answer came.",
            ["endpoint", "result"],
            registry=self.registry,
        )
        self.iak_call_seconds = Histogram(
            "iak_bot_iak_call_seconds",
            "Time an IAK call took, retries included, by endpoint.",
            ["endpoint"],
            buckets=IAK_BUCKETS,
            registry=self.registry,
        )
        self.monitor_ticks = Histogram(
            "iak_bot_monitor_tick_seconds",
            "Time a monitor tick took; lease=held for the ticks that decided, not_held for "
            "the others.",
            ["lease"],
            buckets=TICK_BUCKETS,
            registry=self.registry,
        )
        # Labelled children by label values: prometheus_client's own lookup (validation, a
        # lock) costs several times the increment, and every callback pays it.
        self._intake_children: dict[tuple[str, str, str, str], Any] = {}
        self.monitor_tick_failures = Counter(
            "iak_bot_monitor_tick_failures",
            "Monitor ticks that failed (logged; the next tick tries again).",
            registry=self.registry,
        )

        self.retention_deleted = Counter(
            "iak_bot_retention_deleted_rows",
            "Rows the monitor's leader deleted as RETENTION_DAYS and the outbox's 7 days say, "
            "by table.",
            ["table"],
            registry=self.registry,
        )
        self.retention_blanked = Counter(
            "iak_bot_retention_blanked_rows",
            "History rows whose customer number and serial were blanked (after 30 days).",
            registry=self.registry,
        )
        self.retention_runs = Counter(
            "iak_bot_retention_runs",
            "Retention runs, by result: done, or interrupted (lead lost, stopping, a lock).",
            ["result"],
            registry=self.registry,
        )

    def slash_command(self, subcommand: str, seconds: float) -> None:
        """One `/iak` command acked after `seconds`."""
        self.slash_commands.labels(subcommand).observe(seconds)

    def intake_answered(
        self, route: str, status: int, outcome: Outcome | None, rc: str | None
    ) -> None:
        """One callback or forwarded answer, answered with `status`."""
        key = (route, outcome.value if outcome else NONE, self._rc_label(rc), str(status))
        child = self._intake_children.get(key)
        if child is None:
            child = self._intake_children[key] = self.intake.labels(*key)
        child.inc()

    def iak_call(self, endpoint: str, seconds: float, failure: str | None) -> None:
        """One call to IAK, finished after `seconds`; `failure` names why it got no usable
        answer (None: it did)."""
        self.iak_calls.labels(endpoint, failure or "ok").inc()
        self.iak_call_seconds.labels(endpoint).observe(seconds)

    def monitor_tick(self, seconds: float, *, leader: bool) -> None:
        """One monitor tick that finished after `seconds`."""
        self.monitor_ticks.labels("held" if leader else "not_held").observe(seconds)

    def monitor_tick_failed(self) -> None:
        """One monitor tick that raised."""
        self.monitor_tick_failures.inc()

    def retention_ran(self, report: RetentionReport) -> None:
        """One retention run, and what it deleted and blanked."""
        for table, rows in report.deleted_by_table().items():
            self.retention_deleted.labels(table).inc(rows)
        self.retention_blanked.inc(report.blanked)
        self.retention_runs.labels("interrupted" if report.interrupted else "done").inc()

    def _rc_label(self, rc: str | None) -> str:
        if rc is None:
            return NONE
        return rc if rc in self._known_rcs else OTHER


@dataclass(frozen=True)
class StoreGauges:
    """What the database says right now, as the gauges show it."""

    outbox_backlog: int
    oldest_undelivered: datetime | None
    outbox_failed: int
    outbox_given_up: int
    open_incidents: dict[IncidentKind, int]
    not_final: dict[Outcome, int]
    balance: tuple[int, datetime] | None
    last_tick_at: datetime | None
    now: datetime

    @classmethod
    def read(cls, database: Database, incidents: IncidentRepository, now: datetime) -> StoreGauges:
        """Ask the database (blocking: run it in a thread)."""
        outbox = incidents.outbox_health()
        leader = incidents.leader()
        return cls(
            outbox_backlog=outbox.backlog,
            oldest_undelivered=outbox.oldest_created_at,
            outbox_failed=outbox.failed,
            outbox_given_up=outbox.given_up,
            open_incidents=incidents.open_counts(),
            not_final=reports.on(database.engine, reports.not_final_counts),
            balance=reports.on(database.engine, reports.latest_balance),
            last_tick_at=leader.last_tick_at if leader else None,
            now=now,
        )

    def families(self) -> Iterator[Metric]:
        """The gauges, as Prometheus metric families."""
        yield _gauge("iak_bot_store_up", "1 when the database answered this scrape.", 1)
        yield _gauge(
            "iak_bot_outbox_backlog",
            "Alerts waiting to be delivered to Slack.",
            self.outbox_backlog,
        )
        age = (
            (self.now - self.oldest_undelivered).total_seconds()
            if self.oldest_undelivered is not None
            else 0.0
        )
        yield _gauge(
            "iak_bot_outbox_oldest_age_seconds",
            "Age of the oldest alert not yet delivered to Slack (0 when none waits).",
            max(age, 0.0),
        )
        yield _gauge(
            "iak_bot_outbox_failed",
            "Alerts that could never be delivered (failed for good, ever).",
            self.outbox_failed,
        )
        yield _gauge(
            "iak_bot_outbox_given_up",
            "Alerts Slack kept answering with a retryable error, given up so they held "
            "nothing back (ever).",
            self.outbox_given_up,
        )
        incidents = GaugeMetricFamily(
            "iak_bot_open_incidents", "Open incidents by kind.", labels=["kind"]
        )
        for kind in IncidentKind:
            incidents.add_metric([kind.value], self.open_incidents.get(kind, 0))
        yield incidents
        pending = GaugeMetricFamily(
            "iak_bot_pending_transactions",
            "Transactions not final yet in the store, by outcome (pending or unknown).",
            labels=["outcome"],
        )
        for outcome in NOT_FINAL:
            pending.add_metric([outcome.value], self.not_final.get(outcome, 0))
        yield pending
        if self.balance is not None:
            balance, reported_at = self.balance
            yield _gauge(
                "iak_bot_deposit_balance_rupiah",
                "The IAK deposit balance as IAK last reported it (callbacks, forwarded "
                "answers and status checks carry it).",
                balance,
            )
            yield _gauge(
                "iak_bot_deposit_balance_reported_timestamp_seconds",
                "When IAK last reported the deposit balance (Unix time).",
                reported_at.timestamp(),
            )
        if self.last_tick_at is not None:
            yield _gauge(
                "iak_bot_monitor_last_tick_timestamp_seconds",
                "When the monitor's lease holder last ticked (Unix time).",
                self.last_tick_at.timestamp(),
            )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class _Families(Collector):
    """A registry entry for families gathered before the scrape."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


class MetricsPage:
    """Builds the `GET /metrics` answer: this process's metrics (or every worker's, in
    multiprocess mode) and the database's gauges, read at most once per STORE_MAX_AGE."""

    def __init__(
        self, metrics: Metrics, database: Database, incidents: IncidentRepository, clock: Clock
    ) -> None:
        self.metrics = metrics
        self.database = database
        self.incidents = incidents
        self.clock = clock
        # prometheus_client chose its mode when it was imported (serve sets the directory
        # before that): the page reads the workers' files only if the counts went there.
        in_files = values.ValueClass is not values.MutexValue
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) if in_files else None
        self._store: tuple[float, StoreGauges | None] | None = None
        self._reading: asyncio.Task[StoreGauges | None] | None = None

    async def render(self) -> bytes:
        """The page, in Prometheus' text format."""
        store = await self._store_gauges()
        registry = CollectorRegistry(auto_describe=False)
        if self.multiprocess_dir is not None:
            MultiProcessCollector(registry, self.multiprocess_dir)  # type: ignore[no-untyped-call]
        else:
            registry.register(_Families(self.metrics.registry.collect()))
        if store is not None:
            registry.register(_Families(store.families()))
        else:
            down = _gauge("iak_bot_store_up", "1 when the database answered this scrape.", 0)
            registry.register(_Families([down]))
        return generate_latest(registry)

    async def _store_gauges(self) -> StoreGauges | None:
        cached = self._store
        if cached is not None and time.monotonic() - cached[0] <= STORE_MAX_AGE:
            return cached[1]
        if self._reading is None or self._reading.done():
            self._reading = asyncio.ensure_future(self._read_store())
        # shielded: a scraper that goes away must not cancel the others' reading
        return await asyncio.shield(self._reading)

    async def _read_store(self) -> StoreGauges | None:
        try:
            store: StoreGauges | None = await asyncio.wait_for(
                self.database.read(
                    StoreGauges.read, self.database, self.incidents, self.clock.now()
                ),
                STORE_TIMEOUT,
            )
        except Exception as exc:
            log.warning("metrics: database unavailable: %s", exc.__class__.__name__)
            store = None
        self._store = (time.monotonic(), store)
        return store
