"""The shift handover: what the next shift needs to know, posted to the ops channel at each
HANDOVER_TIMES slot (WIB) and shown by `/iak handover` and `iak-bot handover`: the open
incidents and who acknowledged them, what is muted and until when, the transactions pending
past the age-out, and the last 8 hours' top failures.

Not trouble: like the digest it is recorded as a post that is over as it opens, unique per
slot, so neither a second process nor a restart posts it twice."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import Connection, Engine

from bot.clock import WIB
from bot.incidents.codec import encode_details
from bot.incidents.model import Details, IncidentChange, IncidentKind, PostParent
from bot.incidents.repository import IncidentRepository
from bot.incidents.watch import Tick, WatchContext
from bot.shapes import Json
from bot.store import reports

log = logging.getLogger(__name__)

KIND = IncidentKind.HANDOVER

# The failures a shift hands over: those of the last 8 hours.
FAILURES_OVER = timedelta(hours=8)
TOP_FAILURES = 5
# Listed one by one; more are counted.
MAX_INCIDENTS = 15
MAX_MUTES = 10
# A slot nobody was up to post at goes out when a process comes back within this; later,
# the next shift has started and the handover is no news.
LATE_BY_AT_MOST = timedelta(hours=1)


@dataclass(frozen=True)
class HandedIncident:
    """An open incident as the handover lists it (its figures, to title it as the channel
    does)."""

    id: int
    kind: str
    key: str
    opened_at: datetime
    channel: str | None
    parent_ts: str | None
    details: Json
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    muted_by: str | None
    muted_until: datetime | None


@dataclass(frozen=True)
class HandedMute:
    """A kind and key muted for incidents still to come, until `until`."""

    kind: str
    key: str
    until: datetime
    muted_by: str | None


@dataclass(frozen=True)
class FailureCount:
    """Failures of one code key (`07`, `postpaid 07`; None: IAK gave no rc)."""

    rc: str | None
    count: int


@dataclass(frozen=True)
class HandoverDetails(Details):
    """What a shift hands over, gathered at `gathered_at` (for the slot `slot`, HH:MM WIB,
    or on demand when None)."""

    gathered_at: datetime
    slot: str | None
    incidents: tuple[HandedIncident, ...]  # oldest first
    more_incidents: int  # open but not listed
    mutes: tuple[HandedMute, ...]
    age_out_seconds: float
    old_pending: int  # pending since before the age-out
    oldest_pending_at: datetime | None
    failures: tuple[FailureCount, ...]  # most first
    other_failures: int  # of codes not listed


DETAILS = HandoverDetails
REPLIES = ()


# --- The decision (pure) -------------------------------------------------------------------


def handover_due(now: datetime, slots: tuple[time, ...]) -> datetime | None:
    """The slot (a moment) whose handover is due at `now`: the latest of today's or
    yesterday's slots at or before `now`, if it came at most LATE_BY_AT_MOST ago."""
    local = now.astimezone(WIB)
    moments = [
        datetime.combine(local.date() - timedelta(days=back), slot, WIB)
        for back in (0, 1)
        for slot in slots
    ]
    passed = [moment for moment in moments if moment <= local]
    if not passed:
        return None
    latest = max(passed)
    return latest if local - latest <= LATE_BY_AT_MOST else None


def slot_key(slot: datetime) -> str:
    """`2026-12-07T08:00`: the handover's key, one per slot."""
    return slot.astimezone(WIB).strftime("%Y-%m-%dT%H:%M")


def handover_change(details: HandoverDetails, key: str) -> IncidentChange:
    """The handover as a post: one message, no thread."""
    return IncidentChange(KIND, key, None, details, (PostParent(),), resolve=True)


# --- What it gathers (SQL) -------------------------------------------------------------------


def handover_details(
    connection: Connection,
    incidents: IncidentRepository,
    now: datetime,
    age_out: timedelta,
    slot: str | None = None,
) -> HandoverDetails:
    """What the next shift needs, as the store holds it at `now`."""
    open_ = sorted(incidents.open_now(connection), key=lambda incident: incident.opened_at)
    listed = tuple(
        HandedIncident(
            id=incident.id,
            kind=incident.kind.value,
            key=incident.key,
            opened_at=incident.opened_at,
            channel=incident.channel,
            parent_ts=incident.parent_ts,
            details=encode_details(incident.details),
            acknowledged_by=incident.acknowledged_by,
            acknowledged_at=incident.acknowledged_at,
            muted_by=incident.muted_by if incident.muted(now) else None,
            muted_until=incident.muted_until if incident.muted(now) else None,
        )
        for incident in open_[:MAX_INCIDENTS]
    )
    mutes = tuple(
        HandedMute(mute.kind, mute.key, mute.until, mute.muted_by)
        for mute in incidents.standing_mutes(connection, now)[:MAX_MUTES]
    )
    old, oldest = reports.pending_count(connection, until=now - age_out)
    codes = sorted(
        (
            FailureCount(rc, count)
            for rc, count in reports.failure_codes(connection, now - FAILURES_OVER, now).items()
        ),
        key=lambda code: (-code.count, code.rc or ""),
    )
    return HandoverDetails(
        gathered_at=now,
        slot=slot,
        incidents=listed,
        more_incidents=max(len(open_) - MAX_INCIDENTS, 0),
        mutes=mutes,
        age_out_seconds=age_out.total_seconds(),
        old_pending=old,
        oldest_pending_at=oldest,
        failures=tuple(codes[:TOP_FAILURES]),
        other_failures=sum(code.count for code in codes[TOP_FAILURES:]),
    )


def handover_now(
    engine: Engine, incidents: IncidentRepository, now: datetime, age_out: timedelta
) -> HandoverDetails:
    """The handover someone asks for (`/iak handover`, `iak-bot handover`), read at `now`."""
    with engine.connect() as connection:
        return handover_details(connection, incidents, now, age_out)


# --- The watch ---------------------------------------------------------------------------------


class HandoverWatch:
    """Queues the handover of the slot that is due, unless it is recorded already."""

    def __init__(self, slots: tuple[time, ...], age_out: timedelta) -> None:
        self.slots = slots
        self.age_out = age_out

    def run(self, tick: Tick) -> None:
        """One tick: the due slot's handover, gathered and queued once."""
        slot = handover_due(tick.now, self.slots)
        if slot is None:
            return
        key = slot_key(slot)
        if tick.incidents.recorded(tick.connection, KIND, key):
            return
        details = handover_details(
            tick.connection, tick.incidents, tick.now, self.age_out, slot=key[-5:]
        )
        if tick.incidents.record_once(
            tick.connection, handover_change(details, key), tick.now, tick.channel
        ):
            log.info("shift handover for %s queued", key)
            tick.report.queued += 1


def watch(context: WatchContext) -> HandoverWatch | None:
    """The handover watch; None without HANDOVER_TIMES."""
    slots = context.config.handover_times
    return HandoverWatch(slots, context.config.age_out) if slots else None
