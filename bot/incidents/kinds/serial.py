"""The same serial number twice: successful top-ups (different ref_ids) that delivered one
voucher or PLN token. One incident per serial number; a further delivery is told in its
thread; it resolves a quiet day after the latest, once someone has acknowledged it.

Each tick reads the successes since the last tick, and those of SERIAL_MARGIN before it
(a write may commit after the tick that followed it), but probes only the ones it has not
probed yet: the watch remembers, for the successes its next look reads again, how many
successes of each serial number and time it probed (not their ref_ids: the look reads the
(final_at, serial) index alone, where each ref_id would be fetched from the table, for
every success of the margin, every tick). A success more than remembered is a new one.
The probe is one GROUP BY a chunk of serial numbers. A new leader remembers nothing: it
looks back a day, a bounded chunk a tick, as every monitor did at its start."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, NamedTuple

from sqlalchemy import ARRAY, Connection, String, any_, func, literal, select

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
# successes read per tick at most: those the watch remembers (the margin's: about 3,500 at
# 1,000,000 top-ups a day), and as many more as it may probe
SERIAL_SCAN_PER_TICK = 5000
# successes probed per minute of the monitor's interval (2,000 a tick at the default 30 s,
# as many as a new leader looked at per tick before: it catches up on a day of 1,000,000
# top-ups in under 4 hours), never fewer than the first figure a tick (a short interval
# still moves on) nor more than the second (a long one stays a short tick)
SERIAL_PROBES_PER_MINUTE = 4000
SERIAL_PROBES_PER_TICK = (50, 2000)
# serial numbers probed per statement
SERIAL_PROBE_CHUNK = 500
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


class Delivery(NamedTuple):
    """When a serial number was delivered (by one success or more at that moment)."""

    serial: str
    final_at: datetime


@dataclass(frozen=True)
class Look:
    """What one tick probes, oldest first: deliveries with more successes than when they
    were probed, with how many there are now; and where its look ends (None: it reached
    the present)."""

    fresh: tuple[tuple[Delivery, int], ...]
    end: datetime | None


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


def probes_per_tick(interval: timedelta) -> int:
    """How many successes one tick probes, at most."""
    fewest, most = SERIAL_PROBES_PER_TICK
    scaled = int(SERIAL_PROBES_PER_MINUTE * interval.total_seconds() / 60)
    return min(most, max(fewest, scaled))


def plan_look(
    read: Sequence[Delivery], probed: Mapping[Delivery, int], scan_limit: int, probe_limit: int
) -> Look:
    """Of the successes a tick read (oldest first, at most `scan_limit`), the deliveries
    with more of them than `probed` (how many there were when probed), at most about
    `probe_limit`; the look ends where the read or the probes stop short."""
    end = read[-1].final_at if len(read) >= scan_limit else None
    counted = Counter(read)
    fresh = [delivery for delivery, count in counted.items() if count > probed.get(delivery, 0)]
    if len(fresh) > probe_limit:
        end = fresh[probe_limit - 1].final_at
        fresh = [delivery for delivery in fresh if delivery.final_at <= end]
    return Look(tuple((delivery, counted[delivery]) for delivery in fresh), end)


def repeats_to_tell(look: Look, repeated: set[str]) -> tuple[list[str], Look]:
    """The serial numbers among `repeated` in the order the look met them, at most
    MAX_SERIALS_PER_TICK; and the look as far as it got: cut before the first delivery of
    one more, which the next tick probes again."""
    found: list[str] = []
    for index, (delivery, _) in enumerate(look.fresh):
        if delivery.serial in repeated and delivery.serial not in found:
            if len(found) == MAX_SERIALS_PER_TICK:
                return found, Look(look.fresh[:index], delivery.final_at)
            found.append(delivery.serial)
    return found, look


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


def recent_deliveries(connection: Connection, since: datetime, limit: int) -> list[Delivery]:
    """Successes with a serial number since `since`, oldest first, at most `limit` (one
    Delivery each): a range of the partial (final_at, serial) index alone."""
    rows = connection.execute(
        select(t.serial, t.final_at)
        .where(t.serial.is_not(None), t.final_at >= since)
        .order_by(t.final_at)
        .limit(limit)
    ).all()
    return [Delivery(row.serial, row.final_at) for row in rows]


def repeated_serials(connection: Connection, serials: Iterable[str]) -> set[str]:
    """Which of these serial numbers more than one success delivered (a transaction is one
    row: more than one row is more than one ref_id): one GROUP BY a chunk of them, on the
    partial serial index."""
    wanted = list(dict.fromkeys(serials))
    found: set[str] = set()
    for start in range(0, len(wanted), SERIAL_PROBE_CHUNK):
        chunk = wanted[start : start + SERIAL_PROBE_CHUNK]
        # On Postgres one array parameter: a list expanded into as many parameters took
        # longer to send than the probe took to run.
        among = (
            t.serial == any_(literal(chunk, ARRAY(String)))
            if connection.dialect.name == "postgresql"
            else t.serial.in_(chunk)
        )
        found.update(
            connection.execute(
                select(t.serial)
                .where(t.serial.is_not(None), among)
                .group_by(t.serial)
                .having(func.count() > 1)
            ).scalars()
        )
    return found


def serial_snapshots(
    connection: Connection, repeated: Iterable[str], open_incidents: dict[str, Incident]
) -> list[SerialSnapshot]:
    """Every serial number found `repeated`, and every one with an open incident: the
    successes that delivered it (the first few, oldest first) and how many."""
    by_serial: dict[str, Incident | None] = {}
    for open_incident in open_incidents.values():
        assert isinstance(open_incident.details, SerialDetails)
        by_serial[open_incident.details.serial] = open_incident
    for serial in repeated:
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


def look_for_repeats(
    connection: Connection, since: datetime, probed: Mapping[Delivery, int], probes: int
) -> tuple[list[str], Look]:
    """One tick's look: the successes since `since` that `probed` does not account for, at
    most about `probes` of them, probed; the serial numbers found delivered twice, and the
    look as far as it got."""
    limit = min(SERIAL_SCAN_PER_TICK, sum(probed.values()) + probes)
    read = recent_deliveries(connection, since, limit)
    look = plan_look(read, probed, limit, probes)
    repeated = repeated_serials(connection, (delivery.serial for delivery, _ in look.fresh))
    return repeats_to_tell(look, repeated)


# --- The watch ---------------------------------------------------------------------------------


class SerialWatch:
    """Serial numbers delivered twice, looked for a bounded chunk of successes per tick from
    where the last committed tick stopped, each success probed once."""

    def __init__(self, context: WatchContext) -> None:
        # where the last tick's look ended (None: look back as far as that look ever goes)
        self.checked_until: datetime | None = None
        # for the deliveries the next look reads again: how many successes made each when
        # it was probed
        self.probed: dict[Delivery, int] = {}
        self.probes_per_tick = probes_per_tick(context.config.interval)

    def run(self, tick: Tick) -> None:
        """One tick: the next chunk of deliveries, and every open incident, decided."""
        since = serials_since(self.checked_until, tick.now)
        found, look = look_for_repeats(tick.connection, since, self.probed, self.probes_per_tick)
        for delivered in serial_snapshots(tick.connection, found, tick.open_incidents(KIND)):
            tick.apply(decide(delivered, tick.now))
        reached = serials_checked_until(look.end, tick.now)
        tick.after_commit(lambda: self._looked(look, reached))

    def _looked(self, look: Look, reached: datetime) -> None:
        """Once the tick committed: where the next look starts, and what it need not probe
        (what it will not read again is forgotten)."""
        self.checked_until = reached
        self.probed.update(look.fresh)
        self.probed = {d: count for d, count in self.probed.items() if d.final_at >= reached}


def watch(context: WatchContext) -> SerialWatch:
    """The serial watch."""
    return SerialWatch(context)
