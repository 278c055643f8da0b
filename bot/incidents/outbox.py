"""The outbox: the Slack operations incidents ask for, one row each, written in the same
transaction as the change that asked for them and delivered by the notifier in order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, func, insert, select, update

from bot.incidents.codec import decode_intent, encode_intent
from bot.incidents.kinds import reply_types
from bot.incidents.model import (
    Intent,
    Missed,
    OutboxAction,
    OutboxItem,
    ParentState,
    ThreadReply,
)
from bot.incidents.statements import Statements
from bot.shapes import DbRow
from bot.store.schema import UTCDateTime, incidents, outbox


class OutboxState(StrEnum):
    """What became of an outbox row."""

    PENDING = "pending"
    SENT = "sent"
    SUPERSEDED = "superseded"  # a later edit of the same parent made it pointless
    FAILED = "failed"  # undeliverable for good: logged and counted by /healthz
    # Slack kept answering it with a retryable error while it took other rows, or for a
    # day: dropped so it holds nothing back (logged, and counted by /healthz and /metrics)
    GIVEN_UP = "given_up"


@dataclass(frozen=True)
class OutboxHealth:
    """What /healthz says of the outbox: what waits, and what failed for good."""

    backlog: int
    oldest_created_at: datetime | None
    failed: int
    last_failed_at: datetime | None
    last_error: str | None
    given_up: int = 0


class OutboxStatements(Statements):
    """Read what is due, and record what became of each row."""

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

    def failed_for_good(
        self, item: OutboxItem, error: str, now: datetime, *, given_up: bool = False
    ) -> int:
        """The row can never be delivered (`given_up`: Slack kept answering it with a
        retryable error). A parent that fails takes its thread with it: its queued replies
        and edits fail too, and later ones are never queued. Returns how many rows failed."""
        state = OutboxState.GIVEN_UP if given_up else OutboxState.FAILED
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
                .values(state=state, sent_at=now, last_error=error[:200])
            )
        return len(rows)

    def summarise_stale(self, now: datetime, older_than: datetime, limit: int = 1000) -> int:
        """Thread replies still queued from before `older_than` (Slack was unreachable) are
        not replayed: per incident, they become one reply saying how many were missed (the
        parent, rendered when sent, shows where it stands). A digest's chart is kept.
        Returns how many replies were folded."""
        with self.writing() as connection:
            rows = connection.execute(
                select(
                    outbox.c.id,
                    outbox.c.incident_id,
                    outbox.c.channel,
                    outbox.c.created_at,
                    outbox.c.payload,
                )
                .where(
                    outbox.c.state == OutboxState.PENDING,
                    outbox.c.action == OutboxAction.REPLY.value,
                    outbox.c.created_at < older_than,
                )
                .order_by(outbox.c.id)
                .limit(limit)
            ).all()
            stale = [row for row in rows if not _kept_when_stale(row.payload)]
            if not stale:
                return 0
            by_incident: dict[int, list[Any]] = {}
            for row in stale:
                by_incident.setdefault(row.incident_id, []).append(row)
            connection.execute(
                update(outbox)
                .where(outbox.c.id.in_([row.id for row in stale]))
                .values(state=OutboxState.SUPERSEDED, sent_at=now)
            )
            for incident_id, missed in by_incident.items():
                summary = Missed(len(missed), missed[0].created_at, missed[-1].created_at)
                write_intents(
                    connection, incident_id, missed[0].channel, [ThreadReply(summary)], now
                )
            return len(stale)

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
            given_up = connection.execute(
                select(func.count()).where(outbox.c.state == OutboxState.GIVEN_UP)
            ).scalar_one()
            last = connection.execute(
                select(outbox.c.sent_at, outbox.c.last_error)
                .where(outbox.c.state.in_([OutboxState.FAILED, OutboxState.GIVEN_UP]))
                .order_by(outbox.c.id.desc())
                .limit(1)
            ).first()
        return OutboxHealth(
            backlog=int(count),
            oldest_created_at=oldest,
            failed=int(failed),
            last_failed_at=last.sent_at if last else None,
            last_error=last.last_error if last else None,
            given_up=int(given_up),
        )


def _kept_when_stale(payload: object) -> bool:
    """Whether a queued reply still goes out late (its kind says so: a digest's chart)."""
    if not isinstance(payload, dict):
        return False
    reply = reply_types().get(str(payload.get("type")))
    return reply is not None and reply.kept_when_stale


def _mark(connection: Connection, item_id: int, state: str, now: datetime) -> None:
    connection.execute(
        update(outbox).where(outbox.c.id == item_id).values(state=state, sent_at=now)
    )


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
                "payload": encode_intent(intent),
                "state": OutboxState.PENDING,
                "created_at": now,
                "attempts": 0,
            }
            for intent in intents
        ],
    )


def _outbox_item(row: DbRow) -> OutboxItem:
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
