"""The IAK deposit below LOW_BALANCE_THRESHOLD: one incident while it lasts, updates as the
balance keeps dropping, resolved once it is back above the threshold with a margin."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import pairwise
from typing import ClassVar

from sqlalchemy import Connection

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
from bot.store.reports import balance_readings, latest_balance

KIND = IncidentKind.DEPOSIT
# The spend rate is judged from at most this many of the last hour's balances, the newest.
SPEND_READINGS = 5000
# The deposit incident resolves once the balance is this much above the threshold.
DEPOSIT_MARGIN = 1.10
DEPOSIT_UPDATE_EVERY = timedelta(minutes=30)


@dataclass(frozen=True)
class DepositDetails(Details):
    """The IAK deposit below the threshold, and how fast it is going."""

    balance: int
    threshold: int
    observed_at: datetime
    lowest: int
    reported_balance: int
    reported_at: datetime
    spend_per_hour: float | None = None
    hours_left: float | None = None


@dataclass(frozen=True)
class DepositUpdate(Reply):
    """The deposit kept dropping."""

    kind: ClassVar[str] = "deposit_update"
    balance: int
    previous: int
    spend_per_hour: float | None = None
    hours_left: float | None = None


DETAILS = DepositDetails
REPLIES = (DepositUpdate,)


@dataclass(frozen=True)
class DepositReading:
    """The latest balance IAK reported, and how fast it is going down."""

    balance: int
    observed_at: datetime
    spend_per_hour: float | None  # rupiah per hour over the last hour; None: not enough data


# --- The decision (pure) -------------------------------------------------------------------


def decide(
    reading: DepositReading | None,
    incident: Incident | None,
    now: datetime,
    threshold: int | None,
) -> IncidentChange | None:
    """Open a low-balance incident below the threshold; resolve it above it with a margin."""
    if threshold is None or reading is None:
        return None
    rate = reading.spend_per_hour
    spend = round(rate, 2) if rate else None
    hours_left = round(reading.balance / rate, 2) if rate and rate > 0 else None
    if incident is None:
        if reading.balance >= threshold:
            return None
        opened = DepositDetails(
            balance=reading.balance,
            threshold=threshold,
            observed_at=reading.observed_at,
            lowest=reading.balance,
            reported_balance=reading.balance,
            reported_at=now,
            spend_per_hour=spend,
            hours_left=hours_left,
        )
        return IncidentChange(KIND, KIND.value, None, opened, (PostParent(),))
    before = incident.details
    assert isinstance(before, DepositDetails)
    details = replace(
        before,
        balance=reading.balance,
        threshold=threshold,
        observed_at=reading.observed_at,
        lowest=min(before.lowest, reading.balance),
        spend_per_hour=spend,
        hours_left=hours_left,
    )
    if reading.balance >= threshold * DEPOSIT_MARGIN:
        resolved = Resolved(lasted(incident, now), balance=reading.balance)
        return resolution(incident, details, resolved)
    intents: list[Intent] = []
    reported = before.reported_balance
    dropped = reported - reading.balance >= threshold * 0.1
    waited = now - before.reported_at >= DEPOSIT_UPDATE_EVERY
    if dropped or (waited and reading.balance != reported):
        update = DepositUpdate(
            balance=reading.balance, previous=reported, spend_per_hour=spend, hours_left=hours_left
        )
        intents.append(ThreadReply(update))
        details = replace(details, reported_balance=reading.balance, reported_at=now)
    if details.balance != before.balance:
        intents.append(UpdateParent())
    if details == before and not intents:
        return None
    return IncidentChange(KIND, KIND.value, incident.id, details, tuple(intents))


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


# --- What it gathers (SQL, in the tick's transaction) ------------------------------------------


def reading(
    connection: Connection, now: datetime, spend_below: int | None = None
) -> DepositReading | None:
    """The latest balance IAK reported and, unless it is at least `spend_below`, the spend
    rate over the last hour, from at most SPEND_READINGS of its balances, the newest (at
    1,000,000 top-ups a day the hour holds about 84,000: reading them all cost a tick about
    250 ms, the newest 5,000 span about five minutes)."""
    latest = latest_balance(connection)
    if latest is None:
        return None
    balance, observed_at = latest
    if spend_below is not None and balance >= spend_below:
        return DepositReading(balance, observed_at, None)
    readings = balance_readings(connection, now - timedelta(hours=1), newest=SPEND_READINGS)
    return DepositReading(balance, observed_at, spend_per_hour(readings))


# --- The watch ---------------------------------------------------------------------------------


class DepositWatch:
    """The deposit against LOW_BALANCE_THRESHOLD."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold

    def run(self, tick: Tick) -> None:
        """One tick: the latest balance, decided and written. With no incident open, a
        balance at or above the threshold decides nothing: its spend rate is not read."""
        incident = tick.open_incident(KIND)
        spend_below = self.threshold if incident is None else None
        latest = reading(tick.connection, tick.now, spend_below)
        tick.apply(decide(latest, incident, tick.now, self.threshold))


def watch(context: WatchContext) -> DepositWatch | None:
    """The deposit watch; None without LOW_BALANCE_THRESHOLD."""
    threshold = context.config.low_balance_threshold
    return DepositWatch(threshold) if threshold is not None else None
