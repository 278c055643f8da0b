"""SQL for incidents, their outbox and the monitor's lease."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.alerts.model import (
    Incident,
    IncidentKind,
    IncidentStatus,
    Intent,
    OutboxAction,
    OutboxItem,
)
from bot.store.schema import UTCDateTime, incidents, leases, mutes, outbox

MONITOR_LEASE = "monitor"


@dataclass(frozen=True)
class LeaderInfo:
    """Who runs the monitor, and when it last ticked."""

    holder: str
    expires_at: datetime
    last_tick_at: datetime | None


@dataclass(frozen=True)
class Backlog:
    """Outbox rows not yet delivered."""

    count: int
    oldest_created_at: datetime | None


def incident_from_row(row: Any) -> Incident:
    """An Incident from an `incidents` row."""
    return Incident(
        id=row.id,
        kind=IncidentKind(row.kind),
        key=row.key,
        status=IncidentStatus(row.status),
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
        channel=row.channel,
        parent_ts=row.parent_ts,
        details=dict(row.details or {}),
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        muted_until=row.muted_until,
        muted_by=row.muted_by,
    )


class IncidentStore:
    """Incidents, the outbox and the lease (synchronous; callers run it in threads)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- the lease -----------------------------------------------------------------------

    def try_lease(self, holder: str, now: datetime, expires_at: datetime) -> bool:
        """Take or renew the monitor lease; True when `holder` runs the monitor now."""
        with self.engine.connect().execution_options(write=True) as connection, connection.begin():
            return renew_lease(connection, holder, now, expires_at)

    def release_lease(self, holder: str, now: datetime) -> None:
        """Give the lease up (on shutdown) so another process takes over at its next tick."""
        with self.engine.connect().execution_options(write=True) as connection, connection.begin():
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

    # --- incidents -------------------------------------------------------------------------

    def get(self, incident_id: int) -> Incident | None:
        """One incident."""
        with self.engine.connect() as connection:
            row = connection.execute(select(incidents).where(incidents.c.id == incident_id)).first()
        return incident_from_row(row) if row else None

    def open_incidents(self) -> list[Incident]:
        """Every open incident, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(incidents)
                .where(incidents.c.status == IncidentStatus.OPEN.value)
                .order_by(incidents.c.id)
            ).all()
        return [incident_from_row(row) for row in rows]

    def acknowledge(self, incident_id: int, user_id: str, now: datetime) -> Incident | None:
        """Record who acknowledged an open incident; queue the thread note and the edit.

        Returns the incident as it was (None if unknown); a resolved incident is unchanged.
        """
        with self.engine.connect().execution_options(write=True) as connection, connection.begin():
            incident = _load(connection, incident_id)
            if incident is None or not incident.is_open or incident.acknowledged_by:
                return incident
            connection.execute(
                update(incidents)
                .where(incidents.c.id == incident_id)
                .values(acknowledged_by=user_id, acknowledged_at=now, updated_at=now)
            )
            intents = [
                Intent.reply("note", text=f"Acknowledged by <@{user_id}>."),
                Intent.update_parent(),
            ]
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
        with self.engine.connect().execution_options(write=True) as connection, connection.begin():
            incident = _load(connection, incident_id)
            if incident is None or not incident.is_open:
                return incident
            connection.execute(
                update(incidents)
                .where(incidents.c.id == incident_id)
                .values(muted_until=until, muted_by=user_id if until else None, updated_at=now)
            )
            if future_ones or until is None:
                connection.execute(
                    delete(mutes).where(
                        mutes.c.kind == incident.kind.value, mutes.c.key == incident.key
                    )
                )
            if future_ones and until is not None:
                connection.execute(
                    insert(mutes).values(
                        kind=incident.kind.value, key=incident.key, until=until, muted_by=user_id
                    )
                )
            write_intents(
                connection, incident_id, incident.channel or "", [Intent.update_parent()], now
            )
            return incident

    def set_parent(self, incident_id: int, channel: str, ts: str) -> None:
        """Remember where the parent message is, to reply under it and edit it."""
        with self.engine.connect().execution_options(write=True) as connection, connection.begin():
            connection.execute(
                update(incidents)
                .where(incidents.c.id == incident_id)
                .values(channel=channel, parent_ts=ts)
            )

    # --- the outbox ------------------------------------------------------------------------

    def due(self, limit: int = 100) -> list[OutboxItem]:
        """Undelivered outbox rows, in the order they were written."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(outbox).where(outbox.c.state == "pending").order_by(outbox.c.id).limit(limit)
            ).all()
        return [
            OutboxItem(
                id=row.id,
                incident_id=row.incident_id,
                channel=row.channel,
                action=OutboxAction(row.action),
                payload=dict(row.payload or {}),
                attempts=row.attempts,
                created_at=row.created_at,
            )
            for row in rows
        ]

    def mark(self, item_id: int, state: str, now: datetime) -> None:
        """Mark a row sent (or superseded by a later edit of the same parent)."""
        with self.engine.connect().execution_options(write=True) as connection, connection.begin():
            connection.execute(
                update(outbox).where(outbox.c.id == item_id).values(state=state, sent_at=now)
            )

    def failed_attempt(self, item_id: int, error: str) -> None:
        """Count a failed delivery attempt (it stays queued)."""
        with self.engine.connect().execution_options(write=True) as connection, connection.begin():
            connection.execute(
                update(outbox)
                .where(outbox.c.id == item_id)
                .values(attempts=outbox.c.attempts + 1, last_error=error[:200])
            )

    def backlog(self) -> Backlog:
        """How much is waiting to be delivered."""
        with self.engine.connect() as connection:
            count, oldest = connection.execute(
                select(func.count(), func.min(outbox.c.created_at, type_=UTCDateTime())).where(
                    outbox.c.state == "pending"
                )
            ).one()
        return Backlog(int(count), oldest)

    def queue(self, incident_id: int, channel: str, intents: list[Intent], now: datetime) -> None:
        """Queue Slack operations for an incident (used by the buttons, outside a tick)."""
        with self.engine.connect().execution_options(write=True) as connection, connection.begin():
            write_intents(connection, incident_id, channel, intents, now)


def _load(connection: Connection, incident_id: int) -> Incident | None:
    row = connection.execute(select(incidents).where(incidents.c.id == incident_id)).first()
    return incident_from_row(row) if row else None


def renew_lease(connection: Connection, holder: str, now: datetime, expires_at: datetime) -> bool:
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
    exists = connection.execute(select(leases.c.name).where(leases.c.name == MONITOR_LEASE)).first()
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


def write_intents(
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
                "payload": intent.payload,
                "state": "pending",
                "created_at": now,
                "attempts": 0,
            }
            for intent in intents
        ],
    )
