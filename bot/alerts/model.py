"""Incidents as the monitor decides them and the notifier delivers them.

This is the contract between the two: the monitor produces these types, the store keeps
them, Slack's builders (`bot.slack.blocks.alerts`) render them. Nothing here knows SQL or
Block Kit. Every kind of incident has a dataclass of its figures, and every thread reply a
dataclass of what it says, so a renderer never guesses at a dictionary's keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from bot.outcomes import Line, Outcome, Refusal, Source


class IncidentKind(StrEnum):
    """What an incident is about."""

    PENDING = "pending"  # transactions pending past PENDING_AGE_OUT_SECONDS
    SPIKE = "spike"  # one rc failing far above its baseline, or a code that stops all sales
    DEPOSIT = "deposit"  # the IAK deposit below LOW_BALANCE_THRESHOLD
    # one transaction that two answers give different final outcomes (success, failed)
    CONFLICT = "conflict"
    # Not trouble: the daily digest, keyed by its WIB day. It is a post in the ops channel
    # with a thread like an incident's, so it goes out through the same outbox; it is
    # recorded already resolved, so it is never listed or counted as an open incident.
    DIGEST = "digest"
    # one serial number (voucher, PLN token) delivered by more than one successful top-up
    SERIAL = "serial"
    # one product failing as out of service or unknown (rc 106, 20) far above its usual rate
    PRODUCT = "product"
    # IAK's callbacks missing (outcomes learned only by asking) or refused
    CALLBACKS = "callbacks"


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


# --- What each kind of incident shows (its parent message is rendered from these) ---------


@dataclass(frozen=True)
class Member:
    """A transaction as an incident lists it."""

    ref_id: str
    product_code: str | None
    customer_id: str | None
    started_at: datetime  # when it happened (created_at when known)


@dataclass(frozen=True)
class PendingDetails:
    """Transactions pending too long: how many joined, how they settled, the oldest waiting."""

    total: int = 0
    waiting: int = 0
    succeeded: int = 0
    failed: int = 0
    gave_up: int = 0
    members: tuple[Member, ...] = ()


@dataclass(frozen=True)
class SpikeDetails:
    """One rc failing: the window's count against its usual rate, and the incident's course."""

    rc: str
    count: int
    expected: float
    threshold: float
    stops_sales: bool
    window_seconds: float
    total: int
    peak: int
    # what the thread was last told, and when (updates come when the total doubles, or
    # every few minutes)
    reported_total: int
    reported_at: datetime
    refreshed_at: datetime  # when the parent's figures were last edited
    quiet_since: datetime | None = None  # below the resolve threshold since then
    products: dict[str, int] = field(default_factory=dict)  # failures per product, window
    sparkline: tuple[int, ...] = ()  # failures per 5 minutes over the last hour
    # whose table `rc` is from (the incident's key names both: `06`, `postpaid 06`)
    line: Line = Line.PREPAID


@dataclass(frozen=True)
class DepositDetails:
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
class Claim:
    """What one answer said of a transaction's outcome, and when."""

    source: Source
    outcome: Outcome
    rc: str | None
    at: datetime


@dataclass(frozen=True)
class ConflictDetails:
    """Answers that disagree on whether a transaction succeeded, and what IAK says now."""

    ref_id: str
    product_code: str | None
    customer_id: str | None
    stored: Outcome  # the outcome the bot holds now
    since: datetime  # when the contradicting answer came
    claims: tuple[Claim, ...] = ()  # the final answers heard, oldest first
    iak: Claim | None = None  # IAK's own check, once it gave an outcome


@dataclass(frozen=True)
class CodeCount:
    """Failures of one rc (None: IAK gave no rc)."""

    rc: str | None
    count: int


@dataclass(frozen=True)
class ProductFailures:
    """One product's transactions and failures over a day."""

    product_code: str
    transactions: int
    failures: int

    @property
    def rate(self) -> float:
        """The share of its transactions that failed."""
        return self.failures / self.transactions if self.transactions else 0.0


@dataclass(frozen=True)
class DigestDetails:
    """How one WIB day went: the figures of the daily digest, gathered once when it is due
    (pending counts and the balance are as of then)."""

    day: date
    gathered_at: datetime
    # current outcome (Outcome's value) of every transaction that happened that day
    outcomes: dict[str, int]
    # successes among final transactions over the 7 days before; None without any
    week_success_rate: float | None
    failure_codes: tuple[CodeCount, ...]  # most failures first
    other_failures: int  # failures of codes not listed
    worst_products: tuple[ProductFailures, ...]  # highest failure rate first
    min_product_volume: int  # fewer transactions than this never make the list
    pending_from_day: int  # that day's transactions still not final
    pending_now: int  # every transaction not final
    oldest_pending_at: datetime | None
    spent: int  # IDR: the prices of that day's successful sales
    balance: int | None  # the deposit IAK last reported, and when
    balance_at: datetime | None
    incidents_opened: int
    incidents_resolved: int
    acknowledged: int  # of the incidents opened that day
    median_ack_seconds: float | None
    # per WIB hour, 00-01 first: transactions that happened, and those that failed
    hourly_transactions: tuple[int, ...]
    hourly_failures: tuple[int, ...]

    @property
    def transactions(self) -> int:
        """Transactions that happened that day."""
        return sum(self.outcomes.values())

    @property
    def success_rate(self) -> float | None:
        """Successes among that day's final transactions; None without any."""
        success = self.outcomes.get(Outcome.SUCCESS.value, 0)
        final = success + self.outcomes.get(Outcome.FAILED.value, 0)
        return success / final if final else None

    @property
    def failures(self) -> int:
        """That day's failed transactions."""
        return self.outcomes.get(Outcome.FAILED.value, 0)

    @property
    def days_left(self) -> float | None:
        """How many days the balance lasts at that day's spending; None if unknown."""
        if self.balance is None or self.spent <= 0:
            return None
        return self.balance / self.spent


@dataclass(frozen=True)
class SerialDetails:
    """Successful top-ups (different ref_ids) that delivered the same serial number."""

    serial: str  # as compared (bot.store.states.serial_key); shown only masked
    total: int  # transactions with it
    members: tuple[Member, ...]  # the first few of them, oldest first
    # when the latest of them succeeded: the incident resolves a quiet day after it, once
    # someone has acknowledged it
    latest_at: datetime


@dataclass(frozen=True)
class Alternative:
    """An active product of the same operator and nominal, from IAK's price list."""

    code: str
    price: int | None


@dataclass(frozen=True)
class ProductOutageDetails:
    """One product failing as out of service or unknown: its failures, counted and decided
    as a spike is, and what the price list offers instead."""

    product_code: str
    spike: SpikeDetails  # its failures with those codes; `rc` the most frequent one
    rcs: dict[str, int] = field(default_factory=dict)  # failures per rc, window
    operator: str | None = None  # the product's operator and nominal, from the price list
    nominal: str | None = None
    alternatives: tuple[Alternative, ...] = ()
    # when the price list offered them was fetched; None: no price list cached yet
    price_list_at: datetime | None = None


class CallbackProblem(StrEnum):
    """What is wrong with IAK's callbacks."""

    MISSING = "missing"  # outcomes learned by asking, none by callback
    REFUSED = "refused"  # callbacks arrive, and the bot refuses them


@dataclass(frozen=True)
class RefusedCallbacks:
    """Callbacks refused for one reason in the window, and the last one's particulars."""

    reason: Refusal
    count: int
    last_at: datetime
    address: str | None = None  # who called, as the allowlist judged it
    detail: str | None = None  # what the bot answered was wrong


@dataclass(frozen=True)
class CallbackDetails:
    """IAK's callbacks over the last hour: final outcomes learned without one, and those
    refused since the last one accepted."""

    problem: CallbackProblem
    finals_without: int  # final outcomes learned by re-checks and forwarded answers
    refused: tuple[RefusedCallbacks, ...] = ()
    window_seconds: float = 3600
    iak_env: str = "production"
    iak_address: str | None = None  # where IAK's documentation says it calls back from
    refreshed_at: datetime | None = None

    @property
    def refused_count(self) -> int:
        """Callbacks refused in the window, for every reason."""
        return sum(item.count for item in self.refused)


IncidentDetails = (
    PendingDetails
    | SpikeDetails
    | DepositDetails
    | ConflictDetails
    | DigestDetails
    | SerialDetails
    | ProductOutageDetails
    | CallbackDetails
)

DETAILS_OF_KIND: dict[IncidentKind, type[IncidentDetails]] = {
    IncidentKind.PENDING: PendingDetails,
    IncidentKind.SPIKE: SpikeDetails,
    IncidentKind.DEPOSIT: DepositDetails,
    IncidentKind.CONFLICT: ConflictDetails,
    IncidentKind.DIGEST: DigestDetails,
    IncidentKind.SERIAL: SerialDetails,
    IncidentKind.PRODUCT: ProductOutageDetails,
    IncidentKind.CALLBACKS: CallbackDetails,
}


def stops_sales(details: IncidentDetails) -> bool:
    """Whether the incident is about a code that stops all sales (on-call is told at once)."""
    return isinstance(details, SpikeDetails) and details.stops_sales


def running_total(details: IncidentDetails) -> int | None:
    """The figure an incident counts up while it lasts (failures of a spike, top-ups of a
    pending incident); None for kinds that have none."""
    if isinstance(details, SpikeDetails | PendingDetails):
        return details.total
    return None


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
    details: IncidentDetails
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


# --- What a thread reply says ---------------------------------------------------------------


class ReplyKind(StrEnum):
    """Every kind of thread reply."""

    PENDING_JOINED = "pending_joined"
    PENDING_OUTCOMES = "pending_outcomes"
    SPIKE_UPDATE = "spike_update"
    DEPOSIT_UPDATE = "deposit_update"
    RESOLVED = "resolved"
    ACKNOWLEDGED = "acknowledged"
    RECHECKED = "rechecked"
    CONFLICT_SETTLED = "conflict_settled"
    DIGEST_CHART = "digest_chart"
    SERIAL_AGAIN = "serial_again"
    ESCALATED = "escalated"
    REMINDER = "reminder"
    MUTE_ENDED = "mute_ended"


@dataclass(frozen=True)
class PendingJoined:
    """More transactions aged out into an open pending incident."""

    kind: ClassVar[ReplyKind] = ReplyKind.PENDING_JOINED
    members: tuple[Member, ...]
    more: int  # joined but not listed
    waiting: int  # waiting in the incident now


class Settlement(StrEnum):
    """How a long-pending transaction left the incident."""

    SUCCESS = "success"
    FAILED = "failed"
    GAVE_UP = "gave_up"  # still pending after 24 h: the monitor stopped asking IAK

    @classmethod
    def of(cls, outcome: Outcome) -> Settlement:
        """A final outcome's settlement; anything else means the monitor gave up."""
        if outcome is Outcome.SUCCESS:
            return cls.SUCCESS
        if outcome is Outcome.FAILED:
            return cls.FAILED
        return cls.GAVE_UP


@dataclass(frozen=True)
class Settled:
    """One long-pending transaction that settled."""

    ref_id: str
    outcome: Settlement
    rc: str | None
    product_code: str | None
    customer_id: str | None
    # whose table `rc` is from
    line: Line = Line.PREPAID


@dataclass(frozen=True)
class PendingOutcomes:
    """Long-pending transactions that settled since the last reply."""

    kind: ClassVar[ReplyKind] = ReplyKind.PENDING_OUTCOMES
    items: tuple[Settled, ...]
    more: int  # settled but not listed


@dataclass(frozen=True)
class SpikeUpdate:
    """A failure spike goes on: the total since it opened, and the window's count."""

    kind: ClassVar[ReplyKind] = ReplyKind.SPIKE_UPDATE
    count: int
    expected: float
    total: int
    previous_total: int


@dataclass(frozen=True)
class DepositUpdate:
    """The deposit kept dropping."""

    kind: ClassVar[ReplyKind] = ReplyKind.DEPOSIT_UPDATE
    balance: int
    previous: int
    spend_per_hour: float | None = None
    hours_left: float | None = None


@dataclass(frozen=True)
class Resolved:
    """The incident is over; `total` for pending and spikes, `balance` for the deposit."""

    kind: ClassVar[ReplyKind] = ReplyKind.RESOLVED
    duration_seconds: float
    total: int | None = None
    balance: int | None = None


@dataclass(frozen=True)
class Acknowledged:
    """Someone took the incident on."""

    kind: ClassVar[ReplyKind] = ReplyKind.ACKNOWLEDGED
    user_id: str


@dataclass(frozen=True)
class Rechecked:
    """Someone had the waiting transactions checked at IAK at once."""

    kind: ClassVar[ReplyKind] = ReplyKind.RECHECKED
    user_id: str
    asked: int
    answered: int


@dataclass(frozen=True)
class ConflictSettled:
    """IAK's own check answered: the outcome it gave, and what the bot held before."""

    kind: ClassVar[ReplyKind] = ReplyKind.CONFLICT_SETTLED
    said: Outcome
    rc: str | None
    before: Outcome


@dataclass(frozen=True)
class DigestChart:
    """The digest's chart (drawn from its figures when sent), uploaded into its thread."""

    kind: ClassVar[ReplyKind] = ReplyKind.DIGEST_CHART


@dataclass(frozen=True)
class SerialAgain:
    """More top-ups delivered a serial number that was already delivered twice."""

    kind: ClassVar[ReplyKind] = ReplyKind.SERIAL_AGAIN
    members: tuple[Member, ...]
    total: int  # transactions with it now


@dataclass(frozen=True)
class Escalated:
    """Nobody acknowledged the incident in time: on-call is told, in the channel too."""

    kind: ClassVar[ReplyKind] = ReplyKind.ESCALATED
    open_seconds: float


@dataclass(frozen=True)
class Reminder:
    """Whoever acknowledged the incident is reminded that it is still open."""

    kind: ClassVar[ReplyKind] = ReplyKind.REMINDER
    user_id: str
    acknowledged_seconds: float


@dataclass(frozen=True)
class MuteEnded:
    """A mute ran out with the incident still open; `more`: how far its running figure went
    on meanwhile (None for kinds that have none)."""

    kind: ClassVar[ReplyKind] = ReplyKind.MUTE_ENDED
    muted_by: str | None
    more: int | None = None


Reply = (
    PendingJoined
    | PendingOutcomes
    | SpikeUpdate
    | DepositUpdate
    | Resolved
    | Acknowledged
    | Rechecked
    | ConflictSettled
    | DigestChart
    | SerialAgain
    | Escalated
    | Reminder
    | MuteEnded
)

REPLY_OF_KIND: dict[ReplyKind, type[Reply]] = {
    reply.kind: reply
    for reply in (
        PendingJoined,
        PendingOutcomes,
        SpikeUpdate,
        DepositUpdate,
        Resolved,
        Acknowledged,
        Rechecked,
        ConflictSettled,
        DigestChart,
        SerialAgain,
        Escalated,
        Reminder,
        MuteEnded,
    )
}


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
    """Open, update or resolve one incident, and the Slack operations that follow: what the
    monitor decides, written by the repository in one transaction."""

    kind: IncidentKind
    key: str
    incident_id: int | None  # None: open a new incident
    details: IncidentDetails
    intents: tuple[Intent, ...] = ()
    resolve: bool = False


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
