"""What the monitor decides, as pure functions of a snapshot of stored state and the time.

Nothing here touches the database, IAK or Slack: the tick gathers snapshots, these functions
say what changes and which Slack operations follow, and the tick writes both at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from bot.alerts.model import Incident, IncidentKind, Intent
from bot.config import Settings
from bot.iak.models import Outcome

# A quiet rc is assumed to fail at least this often per window, so one failure after a
# silent day is not "infinitely" above its baseline.
BASELINE_FLOOR = 1.0
# Hysteresis: a spike resolves only below this share of its opening threshold, and only
# after staying there for a whole window.
RESOLVE_FRACTION = 0.5
# Thread updates: at most this often, unless the count has doubled since the last one.
UPDATE_EVERY = timedelta(minutes=5)
# The parent's figures are refreshed at most this often (edits do not notify anyone).
REFRESH_PARENT_EVERY = timedelta(minutes=1)
LISTED = 20
RECHECK_CAP = timedelta(minutes=15)
STOP_CHECKING_AFTER = timedelta(hours=24)
# The deposit incident resolves once the balance is this much above the threshold.
DEPOSIT_MARGIN = 1.10
DEPOSIT_UPDATE_EVERY = timedelta(minutes=30)
SPARK_BUCKETS = 12


@dataclass(frozen=True)
class MonitorConfig:
    """The settings decisions depend on."""

    interval: timedelta
    age_out: timedelta
    spike_window: timedelta
    spike_min_failures: int
    spike_factor: float
    low_balance_threshold: int | None

    @classmethod
    def from_settings(cls, settings: Settings) -> MonitorConfig:
        """Read them from Settings."""
        return cls(
            interval=timedelta(seconds=settings.monitor_interval_seconds),
            age_out=timedelta(seconds=settings.pending_age_out_seconds),
            spike_window=timedelta(seconds=settings.spike_window_seconds),
            spike_min_failures=settings.spike_min_failures,
            spike_factor=settings.spike_factor,
            low_balance_threshold=settings.low_balance_threshold,
        )

    @property
    def recheck_cap(self) -> timedelta:
        """Re-checks back off up to min(15 minutes, PENDING_AGE_OUT_SECONDS)."""
        return min(RECHECK_CAP, self.age_out)


@dataclass(frozen=True)
class IncidentChange:
    """Open, update or resolve one incident, and the Slack operations that follow."""

    kind: IncidentKind
    key: str
    incident_id: int | None  # None: open a new incident
    details: dict[str, Any]
    intents: tuple[Intent, ...] = ()
    resolve: bool = False


# --- Pending transactions ----------------------------------------------------------------


@dataclass(frozen=True)
class PendingTransaction:
    """A pending transaction as the pending incident needs it."""

    ref_id: str
    product_code: str | None
    customer_id: str | None
    first_seen_at: datetime
    outcome: Outcome
    rc: str | None
    checks_stopped_at: datetime | None = None

    def as_member(self) -> dict[str, Any]:
        """How it is listed in the incident's details."""
        return {
            "ref_id": self.ref_id,
            "product_code": self.product_code,
            "customer_id": self.customer_id,
            "first_seen_at": self.first_seen_at.isoformat(),
        }


@dataclass(frozen=True)
class PendingSnapshot:
    """The open pending incident and the transactions that concern it this tick."""

    incident: Incident | None
    # pending longer than the age-out, in no incident yet (oldest first)
    newly_aged: tuple[PendingTransaction, ...]
    # members that are final now, or that the monitor gave up on, not yet told in the thread
    finished: tuple[PendingTransaction, ...]
    # members still waiting, apart from `finished` (count, and the oldest few for the list)
    waiting: int
    oldest_waiting: tuple[PendingTransaction, ...] = ()


@dataclass(frozen=True)
class PendingDecision:
    """What happens to the pending incident and its transactions."""

    change: IncidentChange | None
    join: tuple[str, ...] = ()  # ref_ids that join the incident
    announce: tuple[str, ...] = ()  # ref_ids whose outcome is now told


def decide_pending(snapshot: PendingSnapshot, now: datetime) -> PendingDecision:
    """Aged-out transactions share one incident; outcomes go to its thread; it resolves
    once none is left waiting."""
    incident = snapshot.incident
    joined = snapshot.newly_aged
    finished = snapshot.finished
    if incident is None and not joined:
        return PendingDecision(None)
    if incident is not None and not joined and not finished and snapshot.waiting > 0:
        return PendingDecision(None)

    before = incident.details if incident else {}
    succeeded = before.get("succeeded", 0)
    failed = before.get("failed", 0)
    gave_up = before.get("gave_up", 0)
    told: list[dict[str, Any]] = []
    for member in finished:
        if member.outcome is Outcome.SUCCESS:
            succeeded += 1
        elif member.outcome is Outcome.FAILED:
            failed += 1
        else:
            gave_up += 1
        told.append(
            {
                "ref_id": member.ref_id,
                "outcome": member.outcome.value if member.outcome.is_final else "gave_up",
                "rc": member.rc,
                "product_code": member.product_code,
                "customer_id": member.customer_id,
            }
        )
    waiting = snapshot.waiting + len(joined)
    listed = sorted([*snapshot.oldest_waiting, *joined], key=lambda m: m.first_seen_at)[:LISTED]
    details = {
        "total": before.get("total", 0) + len(joined),
        "waiting": waiting,
        "succeeded": succeeded,
        "failed": failed,
        "gave_up": gave_up,
        "members": [member.as_member() for member in listed],
    }
    intents: list[Intent] = []
    if incident is None:
        intents.append(Intent.post_parent())
    else:
        if joined:
            intents.append(
                Intent.reply(
                    "pending_joined",
                    members=[member.as_member() for member in joined[:LISTED]],
                    more=max(len(joined) - LISTED, 0),
                    waiting=waiting,
                )
            )
        if told:
            intents.append(
                Intent.reply(
                    "pending_outcomes", items=told[:LISTED], more=max(len(told) - LISTED, 0)
                )
            )
    resolve = incident is not None and waiting == 0
    if resolve:
        assert incident is not None
        intents.append(
            Intent.reply(
                "resolved",
                broadcast=True,
                duration_seconds=(now - incident.opened_at).total_seconds(),
                total=details["total"],
            )
        )
    if incident is not None:
        intents.append(Intent.update_parent())
    change = IncidentChange(
        IncidentKind.PENDING,
        IncidentKind.PENDING.value,
        incident.id if incident else None,
        details,
        tuple(intents),
        resolve=resolve,
    )
    return PendingDecision(
        change,
        join=tuple(member.ref_id for member in joined),
        announce=tuple(member.ref_id for member in finished),
    )


def next_check(
    first_seen_at: datetime, checks_done: int, now: datetime, config: MonitorConfig
) -> datetime | None:
    """When to ask IAK again about a pending transaction (None: give up, 24 h passed).

    The wait starts at the monitor interval and doubles after each check, capped at
    min(15 minutes, PENDING_AGE_OUT_SECONDS).
    """
    if now - first_seen_at >= STOP_CHECKING_AFTER:
        return None
    wait = config.interval * (1 << min(checks_done, 30))
    return now + min(wait, config.recheck_cap)


# --- Failure spikes ----------------------------------------------------------------------


@dataclass(frozen=True)
class RcActivity:
    """One rc's recent failures."""

    rc: str
    window_count: int  # failures in the last SPIKE_WINDOW_SECONDS
    baseline_count: int  # failures in the 24 hours before that window
    products: dict[str, int] = field(default_factory=dict)  # failures per product, window
    sparkline: tuple[int, ...] = ()  # failures per 5 minutes over the last hour
    total_since_open: int | None = None  # failures since its open incident opened


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


def decide_spike(
    activity: RcActivity,
    incident: Incident | None,
    now: datetime,
    config: MonitorConfig,
    *,
    stops_sales: bool,
) -> IncidentChange | None:
    """Open, update or resolve the incident of one rc."""
    threshold = opening_threshold(activity, config, stops_sales)
    expected = expected_in_window(activity, config)
    figures = {
        "rc": activity.rc,
        "count": activity.window_count,
        "expected": round(expected, 2),
        "threshold": round(threshold, 2),
        "products": dict(sorted(activity.products.items(), key=lambda kv: -kv[1])[:5]),
        "sparkline": list(activity.sparkline),
        "stops_sales": stops_sales,
        "window_seconds": config.spike_window.total_seconds(),
    }
    if incident is None:
        if activity.window_count < threshold or activity.window_count == 0:
            return None
        details = {
            **figures,
            "total": activity.window_count,
            "peak": activity.window_count,
            "reported_total": activity.window_count,
            "reported_at": now.isoformat(),
            "refreshed_at": now.isoformat(),
            "quiet_since": None,
        }
        return IncidentChange(
            IncidentKind.SPIKE, activity.rc, None, details, (Intent.post_parent(),)
        )

    before = incident.details
    total = max(activity.total_since_open or 0, before.get("total", 0))
    details = {
        **before,
        **figures,
        "total": total,
        "peak": max(before.get("peak", 0), activity.window_count),
    }
    # Quiet: nothing at all for a code that stops sales; well below the threshold otherwise.
    quiet = (
        activity.window_count == 0
        if stops_sales
        else activity.window_count < threshold * RESOLVE_FRACTION
    )
    if quiet:
        since = _parse(before.get("quiet_since")) or now
        details["quiet_since"] = since.isoformat()
        if now - since >= config.spike_window:
            return _resolution(incident, details, now, total=total)
    else:
        details["quiet_since"] = None

    intents: list[Intent] = []
    reported_total = before.get("reported_total", 0)
    reported_at = _parse(before.get("reported_at")) or incident.opened_at
    doubled = total >= 2 * max(reported_total, 1)
    if doubled or (now - reported_at >= UPDATE_EVERY and total != reported_total):
        intents.append(
            Intent.reply(
                "spike_update",
                broadcast=doubled,
                count=activity.window_count,
                expected=round(expected, 2),
                total=total,
                previous_total=reported_total,
            )
        )
        details["reported_total"] = total
        details["reported_at"] = now.isoformat()
    refreshed_at = _parse(before.get("refreshed_at")) or incident.opened_at
    changed = any(details.get(k) != before.get(k) for k in ("count", "total", "sparkline"))
    if intents or (changed and now - refreshed_at >= REFRESH_PARENT_EVERY):
        intents.append(Intent.update_parent())
        details["refreshed_at"] = now.isoformat()
    if details == before and not intents:
        return None
    return IncidentChange(IncidentKind.SPIKE, activity.rc, incident.id, details, tuple(intents))


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


# --- The deposit ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DepositReading:
    """The latest balance IAK reported, and how fast it is going down."""

    balance: int
    observed_at: datetime
    spend_per_hour: float | None  # rupiah per hour over the last hour; None: not enough data


def decide_deposit(
    reading: DepositReading | None,
    incident: Incident | None,
    now: datetime,
    threshold: int | None,
) -> IncidentChange | None:
    """Open a low-balance incident below the threshold; resolve it above it with a margin."""
    if threshold is None or reading is None:
        return None
    hours_left = None
    if reading.spend_per_hour and reading.spend_per_hour > 0:
        hours_left = round(reading.balance / reading.spend_per_hour, 2)
    figures = {
        "balance": reading.balance,
        "threshold": threshold,
        "spend_per_hour": round(reading.spend_per_hour, 2) if reading.spend_per_hour else None,
        "hours_left": hours_left,
        "observed_at": reading.observed_at.isoformat(),
    }
    key = IncidentKind.DEPOSIT.value
    if incident is None:
        if reading.balance >= threshold:
            return None
        details = {
            **figures,
            "lowest": reading.balance,
            "reported_balance": reading.balance,
            "reported_at": now.isoformat(),
        }
        return IncidentChange(IncidentKind.DEPOSIT, key, None, details, (Intent.post_parent(),))
    before = incident.details
    details = {
        **before,
        **figures,
        "lowest": min(before.get("lowest", reading.balance), reading.balance),
    }
    if reading.balance >= threshold * DEPOSIT_MARGIN:
        return _resolution(incident, details, now, balance=reading.balance)
    intents: list[Intent] = []
    reported = before.get("reported_balance", reading.balance)
    reported_at = _parse(before.get("reported_at")) or incident.opened_at
    dropped = reported - reading.balance >= threshold * 0.1
    if dropped or (now - reported_at >= DEPOSIT_UPDATE_EVERY and reading.balance != reported):
        intents.append(
            Intent.reply(
                "deposit_update",
                balance=reading.balance,
                previous=reported,
                spend_per_hour=figures["spend_per_hour"],
                hours_left=hours_left,
            )
        )
        details["reported_balance"] = reading.balance
        details["reported_at"] = now.isoformat()
    if details.get("balance") != before.get("balance"):
        intents.append(Intent.update_parent())
    if details == before and not intents:
        return None
    return IncidentChange(IncidentKind.DEPOSIT, key, incident.id, details, tuple(intents))


def spend_per_hour(readings: list[tuple[datetime, int]]) -> float | None:
    """Rupiah spent per hour from balance readings (time, balance) over a period.

    Only decreases count: a top-up raises the balance and is not spending.
    """
    ordered = sorted(readings)
    if len(ordered) < 2:
        return None
    spent = sum(max(a[1] - b[1], 0) for a, b in pairwise(ordered))
    hours = (ordered[-1][0] - ordered[0][0]) / timedelta(hours=1)
    if hours <= 0:
        return None
    return spent / hours


def _resolution(
    incident: Incident, details: dict[str, Any], now: datetime, **figures: Any
) -> IncidentChange:
    """Resolve: a reply that says so (broadcast: the channel should know it is over) and the
    parent edited to show it."""
    reply = Intent.reply(
        "resolved",
        broadcast=True,
        duration_seconds=(now - incident.opened_at).total_seconds(),
        **figures,
    )
    return IncidentChange(
        incident.kind, incident.key, incident.id, details, (reply, Intent.update_parent()), True
    )


def _parse(value: object) -> datetime | None:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return None
