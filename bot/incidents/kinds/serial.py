"""The same serial number twice: successful top-ups (different ref_ids) that delivered one
voucher or PLN token. One incident per serial number; a further delivery is told in its
thread; it resolves a quiet day after the latest, once someone has acknowledged it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import Connection, func, select

from bot.incidents.config import LISTED
from bot.incidents.model import (
    Details,
    Incident,
    IncidentChange,
    IncidentKind,
    Intent,
    Member,
    PostParent,
    Reply,
    Resolved,
    ThreadReply,
    UpdateParent,
    lasted,
    resolution,
)
from bot.incidents.watch import Tick, WatchContext
from bot.store.schema import INCIDENT_KEY, UTCDateTime, transactions

KIND = IncidentKind.SERIAL
# A serial incident resolves once acknowledged and this long after its latest delivery; the
# monitor never looks further back than this for new deliveries, so a resolved one does not
# open again unless the serial number is delivered once more.
SERIAL_QUIET = timedelta(hours=24)
# Each tick looks again at the deliveries of this last while: a callback's write may commit
# after the tick that followed it.
SERIAL_MARGIN = timedelta(minutes=5)
# serial numbers newly found delivered twice, per tick (the rest wait for the next ticks)
MAX_SERIALS_PER_TICK = 50
# successes looked at for a repeated serial number per tick (catching up after a start
# takes a few ticks more, never a long one)
SERIAL_SCAN_PER_TICK = 2000
t = transactions.c


@dataclass(frozen=True)
class SerialDetails(Details):
    """Successful top-ups (different ref_ids) that delivered the same serial number."""

    serial: str  # as compared (bot.store.states.serial_key); shown only masked
    total: int  # transactions with it
    members: tuple[Member, ...]  # the first few of them, oldest first
    # when the latest of them succeeded: the incident resolves a quiet day after it, once
    # someone has acknowledged it
    latest_at: datetime


@dataclass(frozen=True)
class SerialAgain(Reply):
    """More top-ups delivered a serial number that was already delivered twice."""

    kind: ClassVar[str] = "serial_again"
    members: tuple[Member, ...]
    total: int  # transactions with it now


DETAILS = SerialDetails
REPLIES = (SerialAgain,)


@dataclass(frozen=True)
class SerialSnapshot:
    """The successes that delivered one serial number, and its open incident if any."""

    serial: str
    total: int
    members: tuple[Member, ...]  # the first LISTED, oldest first
    latest_at: datetime  # when the latest of them succeeded
    incident: Incident | None


# --- The decision (pure) -------------------------------------------------------------------


def serial_incident_key(serial: str) -> str:
    """An incident's key for a serial number: itself, or a digest when it is too long."""
    if len(serial) <= INCIDENT_KEY:
        return serial
    return "sha256:" + hashlib.sha256(serial.encode()).hexdigest()


def serials_since(checked_until: datetime | None, now: datetime) -> datetime:
    """Since when a tick looks for deliveries of a serial number already delivered: where
    the previous tick stopped, never more than a quiet period back (a monitor that has just
    started catches up on that period a bounded chunk per tick)."""
    furthest = now - SERIAL_QUIET
    if checked_until is None:
        return furthest
    return max(checked_until, furthest)


def serials_checked_until(scan_end: datetime | None, now: datetime) -> datetime:
    """Where the next tick starts: where this tick's chunk ended, or, once it reached the
    present, a margin before now."""
    return scan_end if scan_end is not None else now - SERIAL_MARGIN


def decide(snapshot: SerialSnapshot, now: datetime) -> IncidentChange | None:
    """One incident per serial number delivered more than once; a further delivery is told
    in its thread; it resolves a quiet day after the latest, once acknowledged."""
    incident = snapshot.incident
    details = SerialDetails(
        serial=snapshot.serial,
        total=snapshot.total,
        members=snapshot.members,
        latest_at=snapshot.latest_at,
    )
    key = serial_incident_key(snapshot.serial)
    if incident is None:
        if snapshot.total < 2:
            return None
        return IncidentChange(KIND, key, None, details, (PostParent(),))
    before = incident.details
    assert isinstance(before, SerialDetails)
    quiet = now - max(snapshot.latest_at, before.latest_at) >= SERIAL_QUIET
    # Over when IAK's own check turned all but one into failures, or once someone has
    # taken it on and a day went by without another delivery.
    if snapshot.total < 2 or (quiet and incident.acknowledged_by is not None):
        resolved = Resolved(lasted(incident, now), total=snapshot.total)
        return resolution(incident, details, resolved)
    if details == before:
        return None
    intents: list[Intent] = []
    if snapshot.total > before.total:
        told = {member.ref_id for member in before.members}
        again = tuple(member for member in snapshot.members if member.ref_id not in told)
        intents.append(ThreadReply(SerialAgain(again, snapshot.total)))
    intents.append(UpdateParent())
    return IncidentChange(KIND, key, incident.id, details, tuple(intents))


# --- What it gathers (SQL, in the tick's transaction) ------------------------------------------


def serial_scan_end(connection: Connection, since: datetime, limit: int) -> datetime | None:
    """When the `limit`-th success with a serial number since `since` succeeded: where one
    tick's look ends; None when fewer succeeded (the look reaches the present)."""
    return connection.execute(
        select(t.final_at)
        .where(t.serial.is_not(None), t.final_at >= since)
        .order_by(t.final_at)
        .offset(limit - 1)
        .limit(1)
    ).scalar_one_or_none()


def repeated_serials(
    connection: Connection, since: datetime, until: datetime | None, limit: int
) -> list[str]:
    """Serial numbers that a success in [since, until] delivered and another success
    (another ref_id) delivered too. Both sides stay on the partial serial indexes: the
    recent successes by time, then each one's serial looked up."""
    recent_conditions = [t.serial.is_not(None), t.final_at >= since]
    if until is not None:
        recent_conditions.append(t.final_at <= until)
    # Ordered by time so that SQLite walks the recent successes, not every serial number.
    recent = (
        select(t.ref_id, t.serial)
        .where(*recent_conditions)
        .order_by(t.final_at)
        .limit(SERIAL_SCAN_PER_TICK * 2)
        .subquery()
    )
    other = transactions.alias("other")
    rows = connection.execute(
        select(recent.c.serial)
        .where(
            select(other.c.ref_id)
            .where(other.c.serial == recent.c.serial, other.c.ref_id != recent.c.ref_id)
            .exists()
        )
        .distinct()
        .limit(limit)
    ).scalars()
    return list(rows)


def serial_snapshots(
    connection: Connection,
    since: datetime,
    until: datetime | None,
    open_incidents: dict[str, Incident],
) -> list[SerialSnapshot]:
    """Every serial number delivered more than once by a success in [since, until], and
    every one with an open incident: the successes that delivered it (the first few, oldest
    first) and how many."""
    by_serial: dict[str, Incident | None] = {}
    for open_incident in open_incidents.values():
        assert isinstance(open_incident.details, SerialDetails)
        by_serial[open_incident.details.serial] = open_incident
    for serial in repeated_serials(connection, since, until, MAX_SERIALS_PER_TICK):
        by_serial.setdefault(serial, None)
    snapshots = []
    for serial, incident in by_serial.items():
        # One statement: on Postgres each statement sees what has committed by then, and a
        # count read apart from the list could miss a delivery the list already shows.
        rows = connection.execute(
            select(
                t.ref_id,
                t.product_code,
                t.customer_id,
                t.started_at,
                func.count().over().label("total"),
                func.max(t.final_at, type_=UTCDateTime()).over().label("latest"),
            )
            .where(t.serial == serial)
            .order_by(t.started_at, t.ref_id)
            .limit(LISTED)
        ).all()
        total = rows[0].total if rows else 0
        latest: datetime | None = rows[0].latest if rows else None
        if latest is None:
            if incident is None:
                continue  # no delivery left with it, and no incident to update
            assert isinstance(incident.details, SerialDetails)
            latest = incident.details.latest_at
        snapshots.append(
            SerialSnapshot(
                serial=serial,
                total=int(total),
                members=tuple(
                    Member(row.ref_id, row.product_code, row.customer_id, row.started_at)
                    for row in rows
                ),
                latest_at=latest,
                incident=incident,
            )
        )
    return snapshots


# --- The watch ---------------------------------------------------------------------------------


class SerialWatch:
    """Serial numbers delivered twice, looked for a bounded chunk of successes per tick from
    where the last committed tick stopped."""

    def __init__(self) -> None:
        # where the last tick's look ended (None: look back as far as that look ever goes)
        self.checked_until: datetime | None = None

    def run(self, tick: Tick) -> None:
        """One tick: the next chunk of deliveries, and every open incident, decided."""
        since = serials_since(self.checked_until, tick.now)
        until = serial_scan_end(tick.connection, since, SERIAL_SCAN_PER_TICK)
        reached = serials_checked_until(until, tick.now)
        for delivered in serial_snapshots(tick.connection, since, until, tick.open_incidents(KIND)):
            tick.apply(decide(delivered, tick.now))
        tick.after_commit(lambda: setattr(self, "checked_until", reached))


def watch(context: WatchContext) -> SerialWatch:
    """The serial watch."""
    return SerialWatch()
