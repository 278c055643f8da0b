"""Incidents as the monitor decides them and the notifier delivers them: the types every kind
of incident shares.

The monitor produces these types, the store keeps them, Slack's renderers
(`bot.slack.alerts`) draw them. Nothing here knows SQL or Block Kit. Each kind's own figures
and thread replies live in its module under `bot.incidents.kinds`; they subclass `Details`
and `Reply`, so a renderer never guesses at a dictionary's keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar


class IncidentKind(StrEnum):
    """What an incident is about: the one list of kinds.

    Each kind has a module of the same name in `bot.incidents.kinds` (its figures, replies,
    SQL and decisions) and one in `bot.slack.alerts.kinds` (how it looks); the monitor runs
    their watches in this order each tick.
    """

    PENDING = "pending"  # transactions pending past PENDING_AGE_OUT_SECONDS
    SPIKE = "spike"  # one rc failing far above its baseline, or a code that stops all sales
    # one transaction that two answers give different final outcomes (success, failed)
    CONFLICT = "conflict"
    # one product failing as out of service or unknown (rc 106, 20) far above its usual rate
    PRODUCT = "product"
    OPERATOR = "operator"  # one operator's success rate, or time to deliver, far off its usual
    # one serial number (voucher, PLN token) delivered by more than one successful top-up
    SERIAL = "serial"
    DEPOSIT = "deposit"  # the IAK deposit below LOW_BALANCE_THRESHOLD
    # IAK's callbacks missing (outcomes learned only by asking) or refused
    CALLBACKS = "callbacks"
    # Not trouble: the daily digest, keyed by its WIB day. It is a post in the ops channel
    # with a thread like an incident's, so it goes out through the same outbox; it is
    # recorded already resolved, so it is never listed or counted as an open incident.
    DIGEST = "digest"
    # Not trouble either: the shift handover at a HANDOVER_TIMES slot, keyed by the slot,
    # recorded resolved like the digest.
    HANDOVER = "handover"


class IncidentStatus(StrEnum):
    """Open until the condition is over."""

    OPEN = "open"
    RESOLVED = "resolved"


class ParentState(StrEnum):
    """Where the incident's parent message stands."""

    QUEUED = "queued"  # its post is in the outbox
    # opened under a standing mute of its kind and key: posted when the mute ends
    HELD = "held"
    POSTED = "posted"  # in the channel: replies go under it, edits change it
    # Slack refused it for good (or it could not be rendered): nothing can go under it
    FAILED = "failed"


@dataclass(frozen=True)
class Details:
    """What one kind of incident shows: each kind's figures subclass this."""

    def running_total(self) -> int | None:
        """The figure an incident counts up while it lasts (failures of a spike, top-ups of a
        pending incident); None for kinds that have none."""
        return None

    def sales_stopped(self) -> bool:
        """Whether it is about a code that stops all sales (on-call is told at once)."""
        return False

    def escalates(self) -> bool:
        """Whether nobody acknowledging it in time brings in on-call (ONCALL_MENTION)."""
        return True


@dataclass(frozen=True)
class Member:
    """A transaction as an incident lists it."""

    ref_id: str
    product_code: str | None
    customer_id: str | None
    started_at: datetime  # when it happened (created_at when known)


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
    details: Details
    parent_state: ParentState = ParentState.QUEUED
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    muted_until: datetime | None = None
    muted_by: str | None = None
    muted_total: int | None = None  # its running_total when muted
    escalated_at: datetime | None = None
    reminded_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Still going on."""
        return self.status is IncidentStatus.OPEN

    def muted(self, now: datetime) -> bool:
        """Whether new messages about it are held back right now."""
        return self.muted_until is not None and self.muted_until > now

    @property
    def has_thread(self) -> bool:
        """Whether its parent is posted or on its way (not held by a mute, not failed)."""
        return self.parent_state in (ParentState.QUEUED, ParentState.POSTED)


# --- What a thread reply says: the replies every kind shares --------------------------------


@dataclass(frozen=True)
class Reply:
    """A thread reply; `kind` names it in the outbox (each kind's replies subclass this)."""

    kind: ClassVar[str]
    # still worth sending when it has waited over an hour (most are folded into `Missed`)
    kept_when_stale: ClassVar[bool] = False


@dataclass(frozen=True)
class Resolved(Reply):
    """The incident is over; `total` for pending and spikes, `balance` for the deposit."""

    kind: ClassVar[str] = "resolved"
    duration_seconds: float
    total: int | None = None
    balance: int | None = None


@dataclass(frozen=True)
class Acknowledged(Reply):
    """Someone took the incident on."""

    kind: ClassVar[str] = "acknowledged"
    user_id: str


@dataclass(frozen=True)
class Rechecked(Reply):
    """Someone had the waiting transactions checked at IAK at once."""

    kind: ClassVar[str] = "rechecked"
    user_id: str
    asked: int
    answered: int


@dataclass(frozen=True)
class Escalated(Reply):
    """Nobody acknowledged the incident in time: on-call is told, in the channel too."""

    kind: ClassVar[str] = "escalated"
    open_seconds: float


@dataclass(frozen=True)
class Reminder(Reply):
    """Whoever acknowledged the incident is reminded that it is still open."""

    kind: ClassVar[str] = "reminder"
    user_id: str
    acknowledged_seconds: float


@dataclass(frozen=True)
class MuteEnded(Reply):
    """A mute ran out with the incident still open; `more`: how far its running figure went
    on meanwhile (None for kinds that have none)."""

    kind: ClassVar[str] = "mute_ended"
    muted_by: str | None
    more: int | None = None


@dataclass(frozen=True)
class Missed(Reply):
    """Replies that waited over an hour (Slack could not take them) were not replayed."""

    kind: ClassVar[str] = "missed"
    count: int
    since: datetime  # when the first of them was queued
    until: datetime  # when the last was


SHARED_REPLIES: tuple[type[Reply], ...] = (
    Missed,
    Resolved,
    Acknowledged,
    Rechecked,
    Escalated,
    Reminder,
    MuteEnded,
)


# --- The Slack operations an incident change asks for (rows of the outbox) --------------------


class OutboxAction(StrEnum):
    """The three Slack operations an incident needs."""

    POST_PARENT = "post_parent"
    REPLY = "reply"
    UPDATE_PARENT = "update_parent"


@dataclass(frozen=True)
class PostParent:
    """Post the incident's parent message (rendered from its state when sent)."""

    action: ClassVar[OutboxAction] = OutboxAction.POST_PARENT


@dataclass(frozen=True)
class UpdateParent:
    """Edit the parent to show the incident's current state."""

    action: ClassVar[OutboxAction] = OutboxAction.UPDATE_PARENT


@dataclass(frozen=True)
class ThreadReply:
    """A reply in the incident's thread; `broadcast` also shows it in the channel (unless the
    incident has been acknowledged)."""

    action: ClassVar[OutboxAction] = OutboxAction.REPLY
    reply: Reply
    broadcast: bool = False


Intent = PostParent | UpdateParent | ThreadReply


@dataclass(frozen=True)
class IncidentChange:
    """Open, update or resolve one incident, and the Slack operations that follow: what a
    kind's `decide` returns, written by the repository in one transaction."""

    kind: IncidentKind
    key: str
    incident_id: int | None  # None: open a new incident
    details: Details
    intents: tuple[Intent, ...] = ()
    resolve: bool = False


def lasted(incident: Incident, now: datetime) -> float:
    """Seconds since the incident opened."""
    return (now - incident.opened_at).total_seconds()


def resolution(incident: Incident, details: Details, said: Resolved) -> IncidentChange:
    """Resolve: a reply that says so (broadcast: the channel should know it is over) and the
    parent edited to show it."""
    intents = (ThreadReply(said, broadcast=True), UpdateParent())
    return IncidentChange(incident.kind, incident.key, incident.id, details, intents, True)


class FollowUp(StrEnum):
    """What the monitor does about an open incident people have (or have not) taken on."""

    ESCALATED = "escalated"  # nobody acknowledged it in time
    REMINDED = "reminded"  # acknowledged long ago and still open
    MUTE_ENDED = "mute_ended"  # its mute ran out


@dataclass(frozen=True)
class IncidentFollowUp:
    """A follow-up on one open incident, remembered so it is done once, and what it says."""

    incident_id: int
    follow_up: FollowUp
    intents: tuple[Intent, ...]


@dataclass(frozen=True)
class OutboxItem:
    """One queued Slack operation; `intent` is None when the stored row cannot be read (it is
    then marked failed: `problem` says why)."""

    id: int
    incident_id: int
    channel: str
    action: OutboxAction
    intent: Intent | None
    attempts: int
    created_at: datetime
    problem: str | None = None
