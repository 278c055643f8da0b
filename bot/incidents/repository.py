"""The incidents' repository: every statement about incidents and mutes, and through its
bases the outbox and the monitor's lease. The monitor's tick, the notifier, the alert buttons
and the Home tab all come here; nothing else writes these tables.

Methods that take a `Connection` run inside the caller's transaction (the monitor's tick
writes its decisions, their outbox rows and its lease renewal at once); the others open
their own. All of it is synchronous: callers on the event loop run it in a thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from bot.incidents.codec import decode_details, encode_details
from bot.incidents.lease import LeaseStatements
from bot.incidents.model import (
    Acknowledged,
    FollowUp,
    Incident,
    IncidentChange,
    IncidentFollowUp,
    IncidentKind,
    IncidentStatus,
    Intent,
    ParentState,
    PostParent,
    Rechecked,
    ThreadReply,
    UpdateParent,
)
from bot.incidents.outbox import OutboxStatements, write_intents
from bot.shapes import DbRow, Json
from bot.store.schema import incidents, mutes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IncidentDay:
    """Incidents over one day: how many opened and resolved, and the seconds each of those
    opened that was acknowledged waited for it, shortest first."""

    opened: int
    resolved: int
    ack_seconds: tuple[float, ...]


def open_incident_exists(kind: IncidentKind, key: ColumnElement[str]) -> ColumnElement[bool]:
    """A condition for other tables' statements: an incident of `kind` about `key` is open."""
    return (
        select(incidents.c.id)
        .where(
            incidents.c.kind == kind.value,
            incidents.c.key == key,
            incidents.c.status == IncidentStatus.OPEN.value,
        )
        .exists()
    )


@dataclass(frozen=True)
class StandingMute:
    """A kind and key muted for incidents opened before `until` (an rc, a product)."""

    kind: str
    key: str
    until: datetime
    muted_by: str | None


class IncidentRepository(LeaseStatements, OutboxStatements):
    """Incidents and mutes; the outbox and the lease through its bases; over one engine."""

    # --- incidents ---------------------------------------------------------------------

    def get(self, incident_id: int) -> Incident | None:
        """One incident."""
        with self.engine.connect() as connection:
            return _load(connection, incident_id)

    def open_incidents(self) -> list[Incident]:
        """Every open incident, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(incidents)
                .where(incidents.c.status == IncidentStatus.OPEN.value)
                .order_by(incidents.c.id)
            ).all()
        return [incident_from_row(row) for row in rows]

    def open_counts(self) -> dict[IncidentKind, int]:
        """How many incidents of each kind are open (every kind named, zeros included)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(incidents.c.kind, func.count())
                .where(incidents.c.status == IncidentStatus.OPEN.value)
                .group_by(incidents.c.kind)
            ).all()
        counts = dict.fromkeys(IncidentKind, 0)
        for kind, count in rows:
            counts[IncidentKind(kind)] = int(count)
        return counts

    def open_incident(
        self, connection: Connection, kind: IncidentKind, key: str
    ) -> Incident | None:
        """The open incident of that kind and key, if any."""
        row = connection.execute(
            select(incidents).where(
                incidents.c.kind == kind.value,
                incidents.c.key == key,
                incidents.c.status == IncidentStatus.OPEN.value,
            )
        ).first()
        return incident_from_row(row) if row else None

    def open_incidents_of(self, connection: Connection, kind: IncidentKind) -> dict[str, Incident]:
        """Open incidents of one kind, by key."""
        rows = connection.execute(
            select(incidents).where(
                incidents.c.kind == kind.value, incidents.c.status == IncidentStatus.OPEN.value
            )
        ).all()
        return {row.key: incident_from_row(row) for row in rows}

    def open_now(self, connection: Connection) -> list[Incident]:
        """Every open incident, oldest first, in the caller's transaction."""
        rows = connection.execute(
            select(incidents)
            .where(incidents.c.status == IncidentStatus.OPEN.value)
            .order_by(incidents.c.id)
        ).all()
        return [incident_from_row(row) for row in rows]

    def apply_follow_up(
        self, connection: Connection, follow_up: IncidentFollowUp, now: datetime
    ) -> None:
        """Remember a follow-up (so it is done once) and queue what it says.

        A mute that ran out is cleared; the notice of its end stands for the escalation too:
        someone had seen the incident, and the channel hears of it again either way.
        """
        values: Json = {"updated_at": now}
        if follow_up.follow_up is FollowUp.ESCALATED:
            values["escalated_at"] = now
        elif follow_up.follow_up is FollowUp.REMINDED:
            values["reminded_at"] = now
        else:
            values.update(
                muted_until=None,
                muted_by=None,
                muted_total=None,
                escalated_at=func.coalesce(incidents.c.escalated_at, now),
            )
        channel = connection.execute(
            update(incidents)
            .where(incidents.c.id == follow_up.incident_id)
            .values(values)
            .returning(incidents.c.channel)
        ).scalar_one()
        write_intents(
            connection, follow_up.incident_id, channel or "", list(follow_up.intents), now
        )

    def apply_change(
        self, connection: Connection, change: IncidentChange, now: datetime, channel: str
    ) -> int:
        """Write an incident change and its outbox rows; returns the incident's id.

        A muted incident sends no new message: replies are dropped, and the parent of an
        incident that opens under a standing mute of its kind and key is held until the
        mute ends (`release_held_parents`). Edits of a posted parent still go out; they
        notify no one. An incident whose parent is held or failed gets no outbox rows: there
        is nothing to reply under or to edit.
        """
        intents = list(change.intents)
        if change.incident_id is None:
            standing = connection.execute(
                select(mutes.c.until, mutes.c.muted_by).where(
                    mutes.c.kind == change.kind.value,
                    mutes.c.key == change.key,
                    mutes.c.until > now,
                )
            ).first()
            parent = ParentState.HELD if standing is not None else ParentState.QUEUED
            incident_id = _insert(
                connection,
                change,
                now,
                channel,
                status=IncidentStatus.OPEN.value,
                parent_state=parent.value,
                muted_until=standing.until if standing else None,
                muted_by=standing.muted_by if standing else None,
            )
            if standing is not None:
                intents = []
        else:
            incident_id = change.incident_id
            row = connection.execute(
                select(incidents.c.muted_until, incidents.c.parent_state).where(
                    incidents.c.id == incident_id
                )
            ).one()
            values: Json = {"details": encode_details(change.details), "updated_at": now}
            if change.resolve:
                values.update(status=IncidentStatus.RESOLVED.value, resolved_at=now)
            connection.execute(
                update(incidents).where(incidents.c.id == incident_id).values(values)
            )
            if row.parent_state in (ParentState.HELD.value, ParentState.FAILED.value):
                intents = []
            elif row.muted_until is not None and row.muted_until > now:
                intents = [intent for intent in intents if not isinstance(intent, ThreadReply)]
        write_intents(connection, incident_id, channel, intents, now)
        return incident_id

    def release_held_parents(self, connection: Connection, now: datetime) -> int:
        """Queue the parents of open incidents whose mute has ended; returns how many."""
        rows = connection.execute(
            select(incidents.c.id, incidents.c.channel).where(
                incidents.c.status == IncidentStatus.OPEN.value,
                incidents.c.parent_state == ParentState.HELD.value,
                (incidents.c.muted_until.is_(None)) | (incidents.c.muted_until <= now),
            )
        ).all()
        for row in rows:
            # Its parent, posted now, is the news that the mute ended, and stands for its
            # escalation: it may well have opened long before.
            connection.execute(
                update(incidents)
                .where(incidents.c.id == row.id)
                .values(
                    parent_state=ParentState.QUEUED.value,
                    muted_until=None,
                    muted_by=None,
                    muted_total=None,
                    escalated_at=func.coalesce(incidents.c.escalated_at, now),
                )
            )
            write_intents(connection, row.id, row.channel or "", [PostParent()], now)
        return len(rows)

    def acknowledge(self, incident_id: int, user_id: str, now: datetime) -> Incident | None:
        """Record who acknowledged an open incident; queue the thread note and the edit.

        Returns the incident as it was (None if unknown); a resolved incident is unchanged.
        """
        with self.writing() as connection:
            incident = _load(connection, incident_id)
            if incident is None or not incident.is_open or incident.acknowledged_by:
                return incident
            connection.execute(
                update(incidents)
                .where(incidents.c.id == incident_id)
                .values(acknowledged_by=user_id, acknowledged_at=now, updated_at=now)
            )
            intents: list[Intent] = [ThreadReply(Acknowledged(user_id)), UpdateParent()]
            if incident.has_thread:
                write_intents(connection, incident_id, incident.channel or "", intents, now)
            return incident

    def mute(
        self,
        incident_id: int,
        user_id: str,
        until: datetime | None,
        now: datetime,
        *,
        future_ones: bool = False,
    ) -> Incident | None:
        """Mute an open incident until `until` (None: unmute); with `future_ones`, its kind
        and key stay muted for incidents opened before then too. The parent is edited."""
        with self.writing() as connection:
            incident = _load(connection, incident_id)
            if incident is None or not incident.is_open:
                return incident
            connection.execute(
                update(incidents)
                .where(incidents.c.id == incident_id)
                .values(
                    muted_until=until,
                    muted_by=user_id if until else None,
                    muted_total=incident.details.running_total() if until else None,
                    updated_at=now,
                )
            )
            kind_and_key = and_(mutes.c.kind == incident.kind.value, mutes.c.key == incident.key)
            if future_ones or until is None:
                connection.execute(delete(mutes).where(kind_and_key))
            if future_ones and until is not None:
                connection.execute(
                    insert(mutes).values(
                        kind=incident.kind.value, key=incident.key, until=until, muted_by=user_id
                    )
                )
            if incident.has_thread:
                write_intents(
                    connection, incident_id, incident.channel or "", [UpdateParent()], now
                )
            return incident

    def note_recheck(
        self, incident_id: int, user_id: str, asked: int, answered: int, now: datetime
    ) -> None:
        """Say in the thread that someone had the waiting transactions checked."""
        with self.writing() as connection:
            incident = _load(connection, incident_id)
            if incident is None or not incident.has_thread:
                return
            reply = ThreadReply(Rechecked(user_id, asked=asked, answered=answered))
            write_intents(connection, incident_id, incident.channel or "", [reply], now)

    def standing_mutes(self, connection: Connection, now: datetime) -> list[StandingMute]:
        """Mutes of a kind and key that hold back future incidents, still running at `now`,
        the one that ends first first."""
        rows = connection.execute(
            select(mutes.c.kind, mutes.c.key, mutes.c.until, mutes.c.muted_by)
            .where(mutes.c.until > now)
            .order_by(mutes.c.until, mutes.c.kind, mutes.c.key)
        ).all()
        return [StandingMute(row.kind, row.key, row.until, row.muted_by) for row in rows]

    # --- posts that are no incident (the daily digest, the shift handover) ----------------

    def recorded(self, connection: Connection, kind: IncidentKind, key: str) -> bool:
        """Whether a post of that kind and key has been recorded (posted or on its way)."""
        return (
            connection.execute(
                select(incidents.c.id).where(incidents.c.kind == kind.value, incidents.c.key == key)
            ).first()
            is not None
        )

    def record_once(
        self,
        connection: Connection,
        change: IncidentChange,
        now: datetime,
        channel: str,
    ) -> int | None:
        """Record a post that is over as it opens (the digest of a day) with its outbox rows,
        once per kind and key. Returns its id, or None when it exists already (another
        process's)."""
        try:
            with connection.begin_nested():
                post_id = _insert(
                    connection,
                    change,
                    now,
                    channel,
                    status=IncidentStatus.RESOLVED.value,
                    resolved_at=now,
                    parent_state=ParentState.QUEUED.value,
                )
        except IntegrityError:
            return None
        write_intents(connection, post_id, channel, list(change.intents), now)
        return post_id

    def incident_day(self, connection: Connection, since: datetime, until: datetime) -> IncidentDay:
        """Incidents opened and resolved in [since, until), and how soon those opened then
        were acknowledged (the digest itself is no incident)."""
        real = incidents.c.kind != IncidentKind.DIGEST.value
        opened = connection.execute(
            select(incidents.c.opened_at, incidents.c.acknowledged_at).where(
                real, incidents.c.opened_at >= since, incidents.c.opened_at < until
            )
        ).all()
        resolved = connection.execute(
            select(func.count()).where(
                real, incidents.c.resolved_at >= since, incidents.c.resolved_at < until
            )
        ).scalar_one()
        waits = sorted(
            (row.acknowledged_at - row.opened_at).total_seconds()
            for row in opened
            if row.acknowledged_at is not None
        )
        return IncidentDay(opened=len(opened), resolved=int(resolved), ack_seconds=tuple(waits))


def incident_from_row(row: DbRow) -> Incident:
    """An Incident from an `incidents` row."""
    kind = IncidentKind(row.kind)
    return Incident(
        id=row.id,
        kind=kind,
        key=row.key,
        status=IncidentStatus(row.status),
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
        channel=row.channel,
        parent_ts=row.parent_ts,
        details=decode_details(kind, row.details),
        parent_state=ParentState(row.parent_state),
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        muted_until=row.muted_until,
        muted_by=row.muted_by,
        muted_total=row.muted_total,
        escalated_at=row.escalated_at,
        reminded_at=row.reminded_at,
    )


def _insert(
    connection: Connection, change: IncidentChange, now: datetime, channel: str, **values: object
) -> int:
    """A new `incidents` row for `change`; returns its id."""
    return int(
        connection.execute(
            insert(incidents)
            .values(
                kind=change.kind.value,
                key=change.key,
                opened_at=now,
                updated_at=now,
                channel=channel,
                details=encode_details(change.details),
                **values,
            )
            .returning(incidents.c.id)
        ).scalar_one()
    )


def _load(connection: Connection, incident_id: int) -> Incident | None:
    row = connection.execute(select(incidents).where(incidents.c.id == incident_id)).first()
    return incident_from_row(row) if row else None
