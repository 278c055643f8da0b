"""Incidents as the monitor and the notifier see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class IncidentKind(StrEnum):
    """What an incident is about."""

    PENDING = "pending"  # transactions pending past PENDING_AGE_OUT_SECONDS
    SPIKE = "spike"  # one rc failing far above its baseline, or a code that stops all sales
    DEPOSIT = "deposit"  # the IAK deposit below LOW_BALANCE_THRESHOLD


class IncidentStatus(StrEnum):
    """Open until the condition is over."""

    OPEN = "open"
    RESOLVED = "resolved"


class OutboxAction(StrEnum):
    """The three Slack operations an incident needs."""

    POST_PARENT = "post_parent"
    REPLY = "reply"
    UPDATE_PARENT = "update_parent"


@dataclass(frozen=True)
class Incident:
    """One incident: one parent message in the ops channel, everything else in its thread."""

    id: int
    kind: IncidentKind
    key: str
    status: IncidentStatus
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    channel: str | None
    parent_ts: str | None
    details: dict[str, Any]
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    muted_until: datetime | None = None
    muted_by: str | None = None

    @property
    def is_open(self) -> bool:
        """Still going on."""
        return self.status is IncidentStatus.OPEN

    def muted(self, now: datetime) -> bool:
        """Whether new messages about it are held back right now."""
        return self.muted_until is not None and self.muted_until > now


@dataclass(frozen=True)
class OutboxItem:
    """One queued Slack operation."""

    id: int
    incident_id: int
    channel: str
    action: OutboxAction
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class Intent:
    """A Slack operation a decision asks for; becomes an outbox row."""

    action: OutboxAction
    payload: dict[str, Any]

    @classmethod
    def post_parent(cls) -> Intent:
        """Post the incident's parent message (rendered from its state when sent)."""
        return cls(OutboxAction.POST_PARENT, {})

    @classmethod
    def update_parent(cls) -> Intent:
        """Edit the parent to show the incident's current state."""
        return cls(OutboxAction.UPDATE_PARENT, {})

    @classmethod
    def reply(cls, kind: str, *, broadcast: bool = False, **data: Any) -> Intent:
        """A reply in the thread; `kind` tells the renderer what it says."""
        return cls(OutboxAction.REPLY, {"type": kind, "broadcast": broadcast, **data})
