"""The incidents' repository: every statement about incidents, their outbox, mutes and the
monitor's lease. The monitor's tick, the notifier, the alert buttons and the Home tab all
come here; nothing else writes these tables.

Methods that take a `Connection` run inside the caller's transaction (the monitor's tick
writes its decisions, their outbox rows and its lease renewal at once); the others open
their own. All of it is synchronous: callers on the event loop run it in a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from bot.alerts.model import (
    DETAILS_OF_KIND,
    REPLY_OF_KIND,
    Acknowledged,
    DigestChart,
    DigestDetails,
    FollowUp,
    Incident,
    IncidentChange,
    IncidentDetails,
    IncidentFollowUp,
    IncidentKind,
    IncidentStatus,
    Intent,
    OutboxAction,
    OutboxItem,
    ParentState,
    PostParent,
    Rechecked,
    Reply,
    ReplyKind,
    ThreadReply,
    UpdateParent,
    running_total,
)
from bot.store.schema import UTCDateTime, incidents, leases, mutes, outbox

log = logging.getLogger(__name__)

MONITOR_LEASE = "monitor"


class OutboxState(StrEnum):
    """What became of an outbox row."""

    PENDING = "pending"
    SENT = "sent"
    SUPERSEDED = "superseded"  # a later edit of the same parent made it pointless
    FAILED = "failed"  # undeliverable for good: logged and counted by /healthz


@dataclass(frozen=True)
class LeaderInfo:
    """Who runs the monitor, and when it last ticked."""

    holder: str
    expires_at: datetime
    last_tick_at: datetime | None


@dataclass(frozen=True)
class IncidentDay:
    """Incidents over one day: how many opened and resolved, and the seconds each of those
    opened that was acknowledged waited for it, shortest first."""

    opened: int
    resolved: int
    ack_seconds: tuple[float, ...]


@dataclass(frozen=True)
class OutboxHealth:
    """What /healthz says of the outbox: what waits, and what failed for good."""

    backlog: int
    oldest_created_at: datetime | None
    failed: int
    last_failed_at: datetime | None
    last_error: str | None


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


class IncidentRepository:
    """Incidents, their outbox, mutes and the lease, over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction (SQLite takes its write lock up front)."""
        with self.engine.connect().execution_options(write=True) as connection, connection.begin():
            yield connection

    # --- the lease ---------------------------------------------------------------------

    def renew_lease(
        self, connection: Connection, holder: str, now: datetime, expires_at: datetime
    ) -> bool:
        """Take the lease if it is free or expired, or renew it if `holder` has it."""
        taken = connection.execute(
            update(leases)
            .where(
                leases.c.name == MONITOR_LEASE,
                (leases.c.holder == holder) | (leases.c.expires_at <= now),
            )
            .values(
                holder=holder,
                expires_at=expires_at,
                last_tick_at=now,
                acquired_at=func.coalesce(
                    # keep acquired_at while the same holder renews
                    select(leases.c.acquired_at)
                    .where(leases.c.name == MONITOR_LEASE, leases.c.holder == holder)
                    .scalar_subquery(),
                    now,
                ),
            )
        ).rowcount
        if taken:
            return True
        exists = connection.execute(
            select(leases.c.name).where(leases.c.name == MONITOR_LEASE)
        ).first()
        if exists:
            return False
        try:
            with connection.begin_nested():
                connection.execute(
                    insert(leases).values(
                        name=MONITOR_LEASE,
                        holder=holder,
                        expires_at=expires_at,
                        acquired_at=now,
                        last_tick_at=now,
                    )
                )
        except IntegrityError:
            return False  # another process created it first
        return True

    def release_lease(self, holder: str, now: datetime) -> None:
        """Give the lease up (on shutdown) so another process takes over at its next tick."""
        with self.writing() as connection:
            connection.execute(
                update(leases)
                .where(leases.c.name == MONITOR_LEASE, leases.c.holder == holder)
                .values(expires_at=now)
            )

    def leader(self) -> LeaderInfo | None:
        """The lease as stored."""
        with self.engine.connect() as connection:
            row = connection.execute(select(leases).where(leases.c.name == MONITOR_LEASE)).first()
        if row is None:
            return None
        return LeaderInfo(row.holder, row.expires_at, row.last_tick_at)

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
        values: dict[str, Any] = {"updated_at": now}
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
        _write_intents(
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
        details = encode_details(change.details)
        if change.incident_id is None:
            standing = connection.execute(
                select(mutes.c.until, mutes.c.muted_by).where(
                    mutes.c.kind == change.kind.value,
                    mutes.c.key == change.key,
                    mutes.c.until > now,
                )
            ).first()
            parent = ParentState.HELD if standing is not None else ParentState.QUEUED
            incident_id = int(
                connection.execute(
                    insert(incidents)
                    .values(
                        kind=change.kind.value,
                        key=change.key,
                        status=IncidentStatus.OPEN.value,
                        opened_at=now,
                        updated_at=now,
                        channel=channel,
                        details=details,
                        parent_state=parent.value,
                        muted_until=standing.until if standing else None,
                        muted_by=standing.muted_by if standing else None,
                    )
                    .returning(incidents.c.id)
                ).scalar_one()
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
            values: dict[str, Any] = {"details": details, "updated_at": now}
            if change.resolve:
                values.update(status=IncidentStatus.RESOLVED.value, resolved_at=now)
            connection.execute(
                update(incidents).where(incidents.c.id == incident_id).values(values)
            )
            if row.parent_state in (ParentState.HELD.value, ParentState.FAILED.value):
                intents = []
            elif row.muted_until is not None and row.muted_until > now:
                intents = [intent for intent in intents if not isinstance(intent, ThreadReply)]
        _write_intents(connection, incident_id, channel, intents, now)
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
            _write_intents(connection, row.id, row.channel or "", [PostParent()], now)
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
            if _has_thread(incident):
                _write_intents(connection, incident_id, incident.channel or "", intents, now)
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
                    muted_total=running_total(incident.details) if until else None,
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
            if _has_thread(incident):
                _write_intents(
                    connection, incident_id, incident.channel or "", [UpdateParent()], now
                )
            return incident

    def note_recheck(
        self, incident_id: int, user_id: str, asked: int, answered: int, now: datetime
    ) -> None:
        """Say in the thread that someone had the waiting transactions checked."""
        with self.writing() as connection:
            incident = _load(connection, incident_id)
            if incident is None or not _has_thread(incident):
                return
            reply = ThreadReply(Rechecked(user_id, asked=asked, answered=answered))
            _write_intents(connection, incident_id, incident.channel or "", [reply], now)

    # --- the daily digest ----------------------------------------------------------------

    def has_digest(self, connection: Connection, day: date) -> bool:
        """Whether the digest of that WIB day has been recorded (posted or on its way)."""
        return (
            connection.execute(
                select(incidents.c.id).where(
                    incidents.c.kind == IncidentKind.DIGEST.value,
                    incidents.c.key == day.isoformat(),
                )
            ).first()
            is not None
        )

    def record_digest(
        self, connection: Connection, details: DigestDetails, now: datetime, channel: str
    ) -> int | None:
        """Queue the digest of its day: the message, then its chart in the thread. Returns
        its id, or None when that day's digest exists already (another process's)."""
        try:
            with connection.begin_nested():
                digest_id = int(
                    connection.execute(
                        insert(incidents)
                        .values(
                            kind=IncidentKind.DIGEST.value,
                            key=details.day.isoformat(),
                            status=IncidentStatus.RESOLVED.value,
                            opened_at=now,
                            updated_at=now,
                            resolved_at=now,
                            channel=channel,
                            details=encode_details(details),
                            parent_state=ParentState.QUEUED.value,
                        )
                        .returning(incidents.c.id)
                    ).scalar_one()
                )
        except IntegrityError:
            return None
        _write_intents(
            connection, digest_id, channel, [PostParent(), ThreadReply(DigestChart())], now
        )
        return digest_id

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

    # --- the outbox --------------------------------------------------------------------

    def due(self, limit: int = 100) -> list[OutboxItem]:
        """Undelivered outbox rows, in the order they were written."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(outbox)
                .where(outbox.c.state == OutboxState.PENDING)
                .order_by(outbox.c.id)
                .limit(limit)
            ).all()
        return [_outbox_item(row) for row in rows]

    def sent(self, item: OutboxItem, now: datetime, *, channel: str, ts: str) -> None:
        """Slack took the row; a posted parent is remembered, to reply under and edit."""
        with self.writing() as connection:
            if item.action is OutboxAction.POST_PARENT:
                connection.execute(
                    update(incidents)
                    .where(incidents.c.id == item.incident_id)
                    .values(channel=channel, parent_ts=ts, parent_state=ParentState.POSTED.value)
                )
            _mark(connection, item.id, OutboxState.SENT, now)

    def superseded(self, item_id: int, now: datetime) -> None:
        """Nothing to send for this row (a later edit, or a vanished incident)."""
        with self.writing() as connection:
            _mark(connection, item_id, OutboxState.SUPERSEDED, now)

    def failed_for_good(self, item: OutboxItem, error: str, now: datetime) -> int:
        """The row can never be delivered. A parent that fails takes its thread with it: its
        queued replies and edits fail too, and later ones are never queued. Returns how many
        rows failed."""
        with self.writing() as connection:
            rows = [item.id]
            if item.action is OutboxAction.POST_PARENT:
                connection.execute(
                    update(incidents)
                    .where(incidents.c.id == item.incident_id)
                    .values(parent_state=ParentState.FAILED.value)
                )
                rows += connection.execute(
                    select(outbox.c.id).where(
                        outbox.c.incident_id == item.incident_id,
                        outbox.c.state == OutboxState.PENDING,
                        outbox.c.id != item.id,
                    )
                ).scalars()
            connection.execute(
                update(outbox)
                .where(outbox.c.id.in_(rows))
                .values(state=OutboxState.FAILED, sent_at=now, last_error=error[:200])
            )
        return len(rows)

    def attempt_failed(self, item_id: int, error: str) -> None:
        """Count a failed delivery attempt (the row stays queued)."""
        with self.writing() as connection:
            connection.execute(
                update(outbox)
                .where(outbox.c.id == item_id)
                .values(attempts=outbox.c.attempts + 1, last_error=error[:200])
            )

    def outbox_health(self) -> OutboxHealth:
        """How much waits to be delivered, and what failed for good."""
        with self.engine.connect() as connection:
            count, oldest = connection.execute(
                select(func.count(), func.min(outbox.c.created_at, type_=UTCDateTime())).where(
                    outbox.c.state == OutboxState.PENDING
                )
            ).one()
            failed = connection.execute(
                select(func.count()).where(outbox.c.state == OutboxState.FAILED)
            ).scalar_one()
            last = connection.execute(
                select(outbox.c.sent_at, outbox.c.last_error)
                .where(outbox.c.state == OutboxState.FAILED)
                .order_by(outbox.c.id.desc())
                .limit(1)
            ).first()
        return OutboxHealth(
            backlog=int(count),
            oldest_created_at=oldest,
            failed=int(failed),
            last_failed_at=last.sent_at if last else None,
            last_error=last.last_error if last else None,
        )


def incident_from_row(row: Any) -> Incident:
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


def _has_thread(incident: Incident) -> bool:
    """Whether its parent is posted or on its way (not held by a mute, not failed)."""
    return incident.parent_state in (ParentState.QUEUED, ParentState.POSTED)


def _load(connection: Connection, incident_id: int) -> Incident | None:
    row = connection.execute(select(incidents).where(incidents.c.id == incident_id)).first()
    return incident_from_row(row) if row else None


def _mark(connection: Connection, item_id: int, state: str, now: datetime) -> None:
    connection.execute(
        update(outbox).where(outbox.c.id == item_id).values(state=state, sent_at=now)
    )


def _write_intents(
    connection: Connection, incident_id: int, channel: str, intents: list[Intent], now: datetime
) -> None:
    """Outbox rows for intents, in the caller's transaction."""
    if not intents:
        return
    connection.execute(
        insert(outbox),
        [
            {
                "incident_id": incident_id,
                "channel": channel,
                "action": intent.action.value,
                "payload": encode_intent(intent),
                "state": OutboxState.PENDING,
                "created_at": now,
                "attempts": 0,
            }
            for intent in intents
        ],
    )


def _outbox_item(row: Any) -> OutboxItem:
    problem = None
    try:
        action = OutboxAction(row.action)
        intent: Intent | None = decode_intent(action, row.payload)
    except (ValueError, ValidationError, TypeError) as exc:
        action, intent, problem = OutboxAction.REPLY, None, f"unreadable outbox row: {exc}"
    return OutboxItem(
        id=row.id,
        incident_id=row.incident_id,
        channel=row.channel,
        action=action,
        intent=intent,
        attempts=row.attempts,
        created_at=row.created_at,
        problem=problem[:200] if problem else None,
    )


# --- How the domain types are stored (JSON columns) -------------------------------------------


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(kind: type[Any]) -> TypeAdapter[Any]:
    """The (de)serialiser of one domain type, built once: building one is slow."""
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return adapter


def encode_details(details: IncidentDetails) -> dict[str, Any]:
    """An incident's figures as stored in `incidents.details`."""
    encoded: dict[str, Any] = _adapter(type(details)).dump_python(details, mode="json")
    return encoded


def decode_details(kind: IncidentKind, stored: Any) -> IncidentDetails:
    """The figures of an incident of `kind`, from `incidents.details`."""
    stored = dict(stored or {})
    if kind is IncidentKind.PENDING:
        # Written before a member's time was when it happened, not when it was first seen.
        stored["members"] = [
            {"started_at": member.get("first_seen_at"), **member}
            for member in stored.get("members", [])
        ]
    details: IncidentDetails = _adapter(DETAILS_OF_KIND[kind]).validate_python(stored)
    return details


def encode_intent(intent: Intent) -> dict[str, Any]:
    """An intent as stored in `outbox.payload`: a reply's kind, broadcast flag and fields."""
    if not isinstance(intent, ThreadReply):
        return {}
    reply = intent.reply
    fields = _adapter(type(reply)).dump_python(reply, mode="json")
    return {"type": reply.kind.value, "broadcast": intent.broadcast, **fields}


def decode_intent(action: OutboxAction, payload: Any) -> Intent:
    """The intent an outbox row stands for; ValueError or ValidationError if unreadable."""
    if action is OutboxAction.POST_PARENT:
        return PostParent()
    if action is OutboxAction.UPDATE_PARENT:
        return UpdateParent()
    if not isinstance(payload, dict):
        raise ValueError("a reply's payload must be an object")
    fields = dict(payload)
    kind = ReplyKind(fields.pop("type", None))
    broadcast = bool(fields.pop("broadcast", False))
    reply: Reply = _adapter(REPLY_OF_KIND[kind]).validate_python(fields)
    return ThreadReply(reply, broadcast=broadcast)
