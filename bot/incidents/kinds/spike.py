"""Failure spikes: one rc on one line failing far above its usual rate, or any failure of a
code that stops all sales. One incident per line and rc; it resolves with hysteresis.

The usual rate is the code's failures in the 24 hours before the window, known windows'
failures left out: kept an hour at a time beside the ticks (`bot.incidents.failures`), so
that a tick reads the window and the day's two edges, not the day."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import Connection, and_, func, select

from bot.incidents.config import REFRESH_PARENT_EVERY, MonitorConfig
from bot.incidents.failures import FailureHours, per_code
from bot.incidents.model import (
    Details,
    Incident,
    IncidentChange,
    IncidentKind,
    Intent,
    PostParent,
    Reply,
    Resolved,
    ThreadReply,
    UpdateParent,
    lasted,
    resolution,
)
from bot.incidents.watch import Tick, WatchContext
from bot.outcomes import Line, Outcome, code_key, split_code_key
from bot.registry import Registry
from bot.store.reports import expected_failures, failures_by_rc
from bot.store.schema import transactions

KIND = IncidentKind.SPIKE
# A quiet rc is assumed to fail at least this often per window, so one failure after a
# silent day is not "infinitely" above its baseline.
BASELINE_FLOOR = 1.0
# Hysteresis: a spike resolves only below this share of its opening threshold, and only
# after staying there for a whole window.
RESOLVE_FRACTION = 0.5
# Thread updates: at most this often, unless the count has doubled since the last one.
UPDATE_EVERY = timedelta(minutes=5)
SPARK_BUCKETS = 12
# Codes that say one product cannot be sold (out of service, code unknown), not that sales
# are failing: their spikes are told per product (`kinds.product`), not per rc.
PRODUCT_LEVEL_RCS = frozenset({"106", "20"})
t = transactions.c


@dataclass(frozen=True)
class SpikeDetails(Details):
    """One rc failing: the window's count against its usual rate, and the incident's course."""

    rc: str
    count: int
    expected: float
    threshold: float
    stops_sales: bool
    window_seconds: float
    total: int
    peak: int
    # what the thread was last told, and when (updates come when the total doubles, or
    # every few minutes)
    reported_total: int
    reported_at: datetime
    refreshed_at: datetime  # when the parent's figures were last edited
    quiet_since: datetime | None = None  # below the resolve threshold since then
    products: dict[str, int] = field(default_factory=dict)  # failures per product, window
    sparkline: tuple[int, ...] = ()  # failures per 5 minutes over the last hour
    # whose table `rc` is from (the incident's key names both: `06`, `postpaid 06`)
    line: Line = Line.PREPAID

    def running_total(self) -> int | None:
        return self.total

    def sales_stopped(self) -> bool:
        return self.stops_sales


@dataclass(frozen=True)
class SpikeUpdate(Reply):
    """A failure spike goes on: the total since it opened, and the window's count."""

    kind: ClassVar[str] = "spike_update"
    count: int
    expected: float
    total: int
    previous_total: int


DETAILS = SpikeDetails
REPLIES = (SpikeUpdate,)


@dataclass(frozen=True)
class RcActivity:
    """One rc's recent failures on one line (postpaid 06 is not prepaid 06)."""

    rc: str
    window_count: int  # failures in the last SPIKE_WINDOW_SECONDS
    baseline_count: int  # failures in the 24 hours before that window
    products: dict[str, int] = field(default_factory=dict)  # failures per product, window
    sparkline: tuple[int, ...] = ()  # failures per 5 minutes over the last hour
    # failures since its open incident started (from the window that opened it)
    total_since_open: int | None = None
    line: Line = Line.PREPAID

    @property
    def key(self) -> str:
        """Its spike incident's key (and mute's): `06`, `postpaid 06`."""
        return code_key(self.line, self.rc)


# --- The decision (pure) -------------------------------------------------------------------


def expected_in_window(activity: RcActivity, config: MonitorConfig) -> float:
    """The rc's baseline, scaled to one window, never below the floor."""
    per_window = activity.baseline_count * (config.spike_window / timedelta(hours=24))
    return max(per_window, BASELINE_FLOOR)


def opening_threshold(activity: RcActivity, config: MonitorConfig, stops_sales: bool) -> float:
    """How many failures in a window open an incident: any one, for a code that stops all
    sales; else SPIKE_MIN_FAILURES and SPIKE_FACTOR times the baseline."""
    if stops_sales:
        return 1
    return max(
        config.spike_min_failures, config.spike_factor * expected_in_window(activity, config)
    )


def may_open(activity: RcActivity, config: MonitorConfig, stops_sales: bool) -> bool:
    """Whether the window's failures are enough to open an incident."""
    return activity.window_count >= opening_threshold(activity, config, stops_sales)


def decide(
    activity: RcActivity,
    incident: Incident | None,
    now: datetime,
    config: MonitorConfig,
    *,
    stops_sales: bool,
) -> IncidentChange | None:
    """Open, update or resolve the incident of one rc on one line."""
    threshold = opening_threshold(activity, config, stops_sales)
    expected = round(expected_in_window(activity, config), 2)
    products = dict(sorted(activity.products.items(), key=lambda kv: -kv[1])[:5])
    if incident is None:
        if activity.window_count < threshold or activity.window_count == 0:
            return None
        opened = SpikeDetails(
            rc=activity.rc,
            count=activity.window_count,
            expected=expected,
            threshold=round(threshold, 2),
            stops_sales=stops_sales,
            window_seconds=config.spike_window.total_seconds(),
            total=activity.window_count,
            peak=activity.window_count,
            reported_total=activity.window_count,
            reported_at=now,
            refreshed_at=now,
            products=products,
            sparkline=activity.sparkline,
            line=activity.line,
        )
        return IncidentChange(KIND, activity.key, None, opened, (PostParent(),))

    before = incident.details
    assert isinstance(before, SpikeDetails)
    total = max(activity.total_since_open or 0, before.total)
    # Quiet: nothing at all for a code that stops sales; well below the threshold otherwise.
    quiet = (
        activity.window_count == 0
        if stops_sales
        else activity.window_count < threshold * RESOLVE_FRACTION
    )
    details = replace(
        before,
        count=activity.window_count,
        expected=expected,
        threshold=round(threshold, 2),
        stops_sales=stops_sales,
        window_seconds=config.spike_window.total_seconds(),
        total=total,
        peak=max(before.peak, activity.window_count),
        products=products,
        sparkline=activity.sparkline,
        quiet_since=(before.quiet_since or now) if quiet else None,
    )
    if details.quiet_since is not None and now - details.quiet_since >= config.spike_window:
        return resolution(incident, details, Resolved(lasted(incident, now), total=total))

    intents: list[Intent] = []
    doubled = total >= 2 * max(before.reported_total, 1)
    if doubled or (now - before.reported_at >= UPDATE_EVERY and total != before.reported_total):
        update = SpikeUpdate(
            count=activity.window_count,
            expected=expected,
            total=total,
            previous_total=before.reported_total,
        )
        intents.append(ThreadReply(update, broadcast=doubled))
        details = replace(details, reported_total=total, reported_at=now)
    changed = (details.count, details.total, details.sparkline) != (
        before.count,
        before.total,
        before.sparkline,
    )
    if intents or (changed and now - before.refreshed_at >= REFRESH_PARENT_EVERY):
        intents.append(UpdateParent())
        details = replace(details, refreshed_at=now)
    if details == before and not intents:
        return None
    return IncidentChange(KIND, activity.key, incident.id, details, tuple(intents))


def sparkline_counts(
    failures_at: list[datetime], now: datetime, buckets: int = SPARK_BUCKETS
) -> tuple[int, ...]:
    """Failures per 5-minute bucket over the last hour, oldest first."""
    width = timedelta(hours=1) / buckets
    counts = [0] * buckets
    start = now - timedelta(hours=1)
    for at in failures_at:
        index = (at - start) // width
        if 0 <= index < buckets:
            counts[index] += 1
    return tuple(counts)


# --- What it gathers (SQL, in the tick's transaction) ------------------------------------------


def rc_activity(
    connection: Connection,
    now: datetime,
    config: MonitorConfig,
    open_spikes: dict[str, Incident],
    wanted: Callable[[RcActivity], bool],
    baseline: Mapping[str, int],
) -> list[RcActivity]:
    """Each code failing now (or with an open incident), per line and rc: its window count
    and its `baseline` (failures per code key in the 24 hours before the window, known
    windows' left out); `open_spikes` names codes by their key (`06`, `postpaid 06`).

    Products, the sparkline and the total since the incident opened are only read for codes
    with an open incident, or that `wanted` (given the counts alone) says may open one.
    """
    window_start = now - config.spike_window
    window = failures_by_rc(connection, window_start, now + timedelta(seconds=1))
    # Failures a known window expects (IAK's scheduled cut-off) open no spike (nor do they
    # raise the baseline that later failures are judged against).
    for known in expected_failures(connection, window_start, now + timedelta(seconds=1)):
        window[known.key] = window.get(known.key, 0) - 1
    activities = []
    for key in sorted(set(window) | set(open_spikes)):
        line, rc = split_code_key(key)
        counted = RcActivity(rc, window.get(key, 0), baseline.get(key, 0), line=line)
        incident = open_spikes.get(key)
        if incident is None and not wanted(counted):
            continue
        failed_rc = and_(t.outcome == Outcome.FAILED.value, t.rc == rc, t.line == line.value)
        products = connection.execute(
            select(t.product_code, func.count())
            .where(failed_rc, t.started_at >= window_start)
            .group_by(t.product_code)
        ).all()
        hour = connection.execute(
            select(t.started_at).where(failed_rc, t.started_at >= now - timedelta(hours=1))
        ).scalars()
        total = None
        if incident is not None:
            total = int(
                connection.execute(
                    select(func.count()).where(failed_rc, t.started_at >= counted_from(incident))
                ).scalar_one()
            )
        activities.append(
            replace(
                counted,
                products={str(code or "?"): int(n) for code, n in products},
                sparkline=sparkline_counts(list(hour), now),
                total_since_open=total,
            )
        )
    return activities


def counted_from(incident: Incident, details: SpikeDetails | None = None) -> datetime:
    """Where a spike's count begins: the window whose failures opened it."""
    spike = details or incident.details
    assert isinstance(spike, SpikeDetails)
    return incident.opened_at - timedelta(seconds=spike.window_seconds)


# --- The watch ---------------------------------------------------------------------------------


def stops_sales(registry: Registry, key: str) -> bool:
    """Whether the code a spike's key names stops all sales (the registry says so)."""
    line, rc = split_code_key(key)
    code = registry.rc(rc, line=line)
    return bool(code and code.stops_sales)


class SpikeWatch:
    """One incident per failing rc (product-level codes are the product kind's)."""

    def __init__(self, context: WatchContext) -> None:
        self.config = context.config
        self.registry = context.registry
        self.failures = context.shared(FailureHours)

    def run(self, tick: Tick) -> None:
        """One tick: each failing code, decided and written."""
        spikes = tick.open_incidents(KIND)
        window_start = tick.now - self.config.spike_window
        baseline = per_code(self.failures.baseline(tick, window_start))

        def wanted(activity: RcActivity) -> bool:
            return activity.rc not in PRODUCT_LEVEL_RCS and may_open(
                activity, self.config, stops_sales(self.registry, activity.key)
            )

        for activity in rc_activity(
            tick.connection, tick.now, self.config, spikes, wanted, baseline
        ):
            tick.apply(
                decide(
                    activity,
                    spikes.get(activity.key),
                    tick.now,
                    self.config,
                    stops_sales=stops_sales(self.registry, activity.key),
                )
            )


def watch(context: WatchContext) -> SpikeWatch:
    """The spike watch."""
    return SpikeWatch(context)
