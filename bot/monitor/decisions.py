"""What the monitor decides, as pure functions of a snapshot of stored state and the time.

Nothing here touches the database, IAK or Slack: the tick gathers snapshots, these functions
say what changes and which Slack operations follow, and the tick writes both at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from itertools import pairwise

from bot.alerts.model import (
    Alternative,
    CallbackDetails,
    CallbackProblem,
    Claim,
    ConflictDetails,
    ConflictSettled,
    DepositDetails,
    DepositUpdate,
    Escalated,
    FollowUp,
    Incident,
    IncidentChange,
    IncidentDetails,
    IncidentFollowUp,
    IncidentKind,
    Intent,
    Member,
    MuteEnded,
    ParentState,
    PendingDetails,
    PendingJoined,
    PendingOutcomes,
    PostParent,
    ProductOutageDetails,
    RefusedCallbacks,
    Reminder,
    Resolved,
    SerialAgain,
    SerialDetails,
    Settled,
    Settlement,
    SpikeDetails,
    SpikeUpdate,
    ThreadReply,
    UpdateParent,
    running_total,
    stops_sales,
)
from bot.clock import WIB
from bot.config import IAK_CALLBACK_IPS, Settings
from bot.iak.products import Product
from bot.outcomes import Line, Outcome, Source, code_key
from bot.store.schema import INCIDENT_KEY
from bot.store.transactions import PendingTransaction

# A quiet rc is assumed to fail at least this often per window, so one failure after a
# silent day is not "infinitely" above its baseline.
BASELINE_FLOOR = 1.0
# Hysteresis: a spike resolves only below this share of its opening threshold, and only
# after staying there for a whole window.
RESOLVE_FRACTION = 0.5
# Thread updates: at most this often, unless the count has doubled since the last one.
UPDATE_EVERY = timedelta(minutes=5)
# The parent's figures are refreshed at most this often (edits do not notify anyone).
REFRESH_PARENT_EVERY = timedelta(minutes=1)
LISTED = 20
RECHECK_CAP = timedelta(minutes=15)
STOP_CHECKING_AFTER = timedelta(hours=24)
# The deposit incident resolves once the balance is this much above the threshold.
DEPOSIT_MARGIN = 1.10
DEPOSIT_UPDATE_EVERY = timedelta(minutes=30)
SPARK_BUCKETS = 12
# Callback health, over the last hour: this many final outcomes learned by asking with none
# by callback means callbacks are missing; this many refused since the last one accepted
# means they are being refused.
CALLBACK_WINDOW = timedelta(hours=1)
MISSING_CALLBACK_FINALS = 5
REFUSED_CALLBACKS = 3
# Incidents that do not stop all sales escalate this many times later.
SLOWER_ESCALATION = 4
# An acknowledged incident still open this long after reminds whoever acknowledged it.
REMIND_AFTER = timedelta(hours=4)


@dataclass(frozen=True)
class MonitorConfig:
    """The settings decisions depend on."""

    interval: timedelta
    age_out: timedelta
    spike_window: timedelta
    spike_min_failures: int
    spike_factor: float
    low_balance_threshold: int | None
    # WIB time of the daily digest; None: no digest
    digest_time: time | None = None
    escalate_after: timedelta = timedelta(seconds=900)
    watch_callbacks: bool = False
    iak_env: str = "development"
    # how long a leader's lease lasts without renewal (None: LEASE_TICKS ticks, at least 1 s)
    lease: timedelta | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> MonitorConfig:
        """Read them from Settings."""
        return cls(
            interval=timedelta(seconds=settings.monitor_interval_seconds),
            age_out=timedelta(seconds=settings.pending_age_out_seconds),
            spike_window=timedelta(seconds=settings.spike_window_seconds),
            spike_min_failures=settings.spike_min_failures,
            spike_factor=settings.spike_factor,
            low_balance_threshold=settings.low_balance_threshold,
            digest_time=settings.digest_time,
            escalate_after=timedelta(seconds=settings.escalate_after_seconds),
            watch_callbacks=settings.watch_callbacks,
            iak_env=settings.iak_env,
            lease=(
                timedelta(seconds=settings.monitor_lease_seconds)
                if settings.monitor_lease_seconds is not None
                else None
            ),
        )

    @property
    def recheck_cap(self) -> timedelta:
        """Re-checks back off up to min(15 minutes, PENDING_AGE_OUT_SECONDS)."""
        return min(RECHECK_CAP, self.age_out)


# --- Pending transactions ----------------------------------------------------------------


def member(transaction: PendingTransaction) -> Member:
    """How a pending transaction is listed in its incident."""
    return Member(
        ref_id=transaction.ref_id,
        product_code=transaction.product_code,
        customer_id=transaction.customer_id,
        started_at=transaction.started_at,
    )


@dataclass(frozen=True)
class PendingSnapshot:
    """The open pending incident and the transactions that concern it this tick."""

    incident: Incident | None
    # pending longer than the age-out, in no incident yet (oldest first)
    newly_aged: tuple[PendingTransaction, ...]
    # members that are final now, or that the monitor gave up on, not yet told in the thread
    finished: tuple[PendingTransaction, ...]
    # members still waiting, apart from `finished` (count, and the oldest few for the list)
    waiting: int
    oldest_waiting: tuple[PendingTransaction, ...] = ()


@dataclass(frozen=True)
class PendingDecision:
    """What happens to the pending incident and its transactions."""

    change: IncidentChange | None
    join: tuple[str, ...] = ()  # ref_ids that join the incident
    announce: tuple[str, ...] = ()  # ref_ids whose outcome is now told


def decide_pending(snapshot: PendingSnapshot, now: datetime) -> PendingDecision:
    """Aged-out transactions share one incident; outcomes go to its thread; it resolves
    once none is left waiting."""
    incident = snapshot.incident
    joined = snapshot.newly_aged
    finished = snapshot.finished
    if incident is None and not joined:
        return PendingDecision(None)
    if incident is not None and not joined and not finished and snapshot.waiting > 0:
        return PendingDecision(None)

    before = incident.details if incident is not None else PendingDetails()
    assert isinstance(before, PendingDetails)
    told = tuple(
        Settled(
            ref_id=transaction.ref_id,
            outcome=Settlement.of(transaction.outcome),
            rc=transaction.rc,
            product_code=transaction.product_code,
            customer_id=transaction.customer_id,
            line=transaction.line,
        )
        for transaction in finished
    )
    settled = [item.outcome for item in told]
    waiting = snapshot.waiting + len(joined)
    listed = sorted([*snapshot.oldest_waiting, *joined], key=lambda m: m.started_at)[:LISTED]
    details = PendingDetails(
        total=before.total + len(joined),
        waiting=waiting,
        succeeded=before.succeeded + settled.count(Settlement.SUCCESS),
        failed=before.failed + settled.count(Settlement.FAILED),
        gave_up=before.gave_up + settled.count(Settlement.GAVE_UP),
        members=tuple(member(transaction) for transaction in listed),
    )
    intents: list[Intent] = []
    if incident is None:
        intents.append(PostParent())
    else:
        if joined:
            reply = PendingJoined(
                members=tuple(member(transaction) for transaction in joined[:LISTED]),
                more=max(len(joined) - LISTED, 0),
                waiting=waiting,
            )
            intents.append(ThreadReply(reply))
        if told:
            outcomes = PendingOutcomes(items=told[:LISTED], more=max(len(told) - LISTED, 0))
            intents.append(ThreadReply(outcomes))
    resolve = incident is not None and waiting == 0
    if resolve:
        assert incident is not None
        resolved = Resolved(
            duration_seconds=(now - incident.opened_at).total_seconds(), total=details.total
        )
        intents.append(ThreadReply(resolved, broadcast=True))
    if incident is not None:
        intents.append(UpdateParent())
    change = IncidentChange(
        IncidentKind.PENDING,
        IncidentKind.PENDING.value,
        incident.id if incident else None,
        details,
        tuple(intents),
        resolve=resolve,
    )
    return PendingDecision(
        change,
        join=tuple(transaction.ref_id for transaction in joined),
        announce=tuple(transaction.ref_id for transaction in finished),
    )


def next_check(
    started_at: datetime, checks_done: int, now: datetime, config: MonitorConfig
) -> datetime | None:
    """When to ask IAK again about a pending transaction (None: give up, 24 h passed).

    The wait starts at the monitor interval and doubles after each check, capped at
    min(15 minutes, PENDING_AGE_OUT_SECONDS).
    """
    if now - started_at >= STOP_CHECKING_AFTER:
        return None
    wait = config.interval * (1 << min(checks_done, 30))
    return now + min(wait, config.recheck_cap)


# --- Failure spikes ----------------------------------------------------------------------


@dataclass(frozen=True)
class RcActivity:
    """One rc's recent failures on one line (postpaid 06 is not prepaid 06)."""

    rc: str
    window_count: int  # failures in the last SPIKE_WINDOW_SECONDS
    baseline_count: int  # failures in the 24 hours before that window
    products: dict[str, int] = field(default_factory=dict)  # failures per product, window
    sparkline: tuple[int, ...] = ()  # failures per 5 minutes over the last hour
    # failures since its open incident started (from the window that opened it)
    total_since_open: int | None = None
    line: Line = Line.PREPAID

    @property
    def key(self) -> str:
        """Its spike incident's key (and mute's): `06`, `postpaid 06`."""
        return code_key(self.line, self.rc)


def expected_in_window(activity: RcActivity, config: MonitorConfig) -> float:
    """The rc's baseline, scaled to one window, never below the floor."""
    per_window = activity.baseline_count * (config.spike_window / timedelta(hours=24))
    return max(per_window, BASELINE_FLOOR)


def opening_threshold(activity: RcActivity, config: MonitorConfig, stops_sales: bool) -> float:
    """How many failures in a window open an incident: any one, for a code that stops all
    sales; else SPIKE_MIN_FAILURES and SPIKE_FACTOR times the baseline."""
    if stops_sales:
        return 1
    return max(
        config.spike_min_failures, config.spike_factor * expected_in_window(activity, config)
    )


def decide_spike(
    activity: RcActivity,
    incident: Incident | None,
    now: datetime,
    config: MonitorConfig,
    *,
    stops_sales: bool,
) -> IncidentChange | None:
    """Open, update or resolve the incident of one rc on one line."""
    threshold = opening_threshold(activity, config, stops_sales)
    expected = round(expected_in_window(activity, config), 2)
    products = dict(sorted(activity.products.items(), key=lambda kv: -kv[1])[:5])
    if incident is None:
        if activity.window_count < threshold or activity.window_count == 0:
            return None
        opened = SpikeDetails(
            rc=activity.rc,
            count=activity.window_count,
            expected=expected,
            threshold=round(threshold, 2),
            stops_sales=stops_sales,
            window_seconds=config.spike_window.total_seconds(),
            total=activity.window_count,
            peak=activity.window_count,
            reported_total=activity.window_count,
            reported_at=now,
            refreshed_at=now,
            products=products,
            sparkline=activity.sparkline,
            line=activity.line,
        )
        return IncidentChange(IncidentKind.SPIKE, activity.key, None, opened, (PostParent(),))

    before = incident.details
    assert isinstance(before, SpikeDetails)
    total = max(activity.total_since_open or 0, before.total)
    # Quiet: nothing at all for a code that stops sales; well below the threshold otherwise.
    quiet = (
        activity.window_count == 0
        if stops_sales
        else activity.window_count < threshold * RESOLVE_FRACTION
    )
    details = replace(
        before,
        count=activity.window_count,
        expected=expected,
        threshold=round(threshold, 2),
        stops_sales=stops_sales,
        window_seconds=config.spike_window.total_seconds(),
        total=total,
        peak=max(before.peak, activity.window_count),
        products=products,
        sparkline=activity.sparkline,
        quiet_since=(before.quiet_since or now) if quiet else None,
    )
    if details.quiet_since is not None and now - details.quiet_since >= config.spike_window:
        return _resolution(incident, details, Resolved(_lasted(incident, now), total=total))

    intents: list[Intent] = []
    doubled = total >= 2 * max(before.reported_total, 1)
    if doubled or (now - before.reported_at >= UPDATE_EVERY and total != before.reported_total):
        update = SpikeUpdate(
            count=activity.window_count,
            expected=expected,
            total=total,
            previous_total=before.reported_total,
        )
        intents.append(ThreadReply(update, broadcast=doubled))
        details = replace(details, reported_total=total, reported_at=now)
    changed = (details.count, details.total, details.sparkline) != (
        before.count,
        before.total,
        before.sparkline,
    )
    if intents or (changed and now - before.refreshed_at >= REFRESH_PARENT_EVERY):
        intents.append(UpdateParent())
        details = replace(details, refreshed_at=now)
    if details == before and not intents:
        return None
    return IncidentChange(IncidentKind.SPIKE, activity.key, incident.id, details, tuple(intents))


def sparkline_counts(
    failures_at: list[datetime], now: datetime, buckets: int = SPARK_BUCKETS
) -> tuple[int, ...]:
    """Failures per 5-minute bucket over the last hour, oldest first."""
    width = timedelta(hours=1) / buckets
    counts = [0] * buckets
    start = now - timedelta(hours=1)
    for at in failures_at:
        index = (at - start) // width
        if 0 <= index < buckets:
            counts[index] += 1
    return tuple(counts)


# --- The deposit ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DepositReading:
    """The latest balance IAK reported, and how fast it is going down."""

    balance: int
    observed_at: datetime
    spend_per_hour: float | None  # rupiah per hour over the last hour; None: not enough data


def decide_deposit(
    reading: DepositReading | None,
    incident: Incident | None,
    now: datetime,
    threshold: int | None,
) -> IncidentChange | None:
    """Open a low-balance incident below the threshold; resolve it above it with a margin."""
    if threshold is None or reading is None:
        return None
    rate = reading.spend_per_hour
    spend = round(rate, 2) if rate else None
    hours_left = round(reading.balance / rate, 2) if rate and rate > 0 else None
    key = IncidentKind.DEPOSIT.value
    if incident is None:
        if reading.balance >= threshold:
            return None
        opened = DepositDetails(
            balance=reading.balance,
            threshold=threshold,
            observed_at=reading.observed_at,
            lowest=reading.balance,
            reported_balance=reading.balance,
            reported_at=now,
            spend_per_hour=spend,
            hours_left=hours_left,
        )
        return IncidentChange(IncidentKind.DEPOSIT, key, None, opened, (PostParent(),))
    before = incident.details
    assert isinstance(before, DepositDetails)
    details = replace(
        before,
        balance=reading.balance,
        threshold=threshold,
        observed_at=reading.observed_at,
        lowest=min(before.lowest, reading.balance),
        spend_per_hour=spend,
        hours_left=hours_left,
    )
    if reading.balance >= threshold * DEPOSIT_MARGIN:
        resolved = Resolved(_lasted(incident, now), balance=reading.balance)
        return _resolution(incident, details, resolved)
    intents: list[Intent] = []
    reported = before.reported_balance
    dropped = reported - reading.balance >= threshold * 0.1
    waited = now - before.reported_at >= DEPOSIT_UPDATE_EVERY
    if dropped or (waited and reading.balance != reported):
        update = DepositUpdate(
            balance=reading.balance, previous=reported, spend_per_hour=spend, hours_left=hours_left
        )
        intents.append(ThreadReply(update))
        details = replace(details, reported_balance=reading.balance, reported_at=now)
    if details.balance != before.balance:
        intents.append(UpdateParent())
    if details == before and not intents:
        return None
    return IncidentChange(IncidentKind.DEPOSIT, key, incident.id, details, tuple(intents))


def spend_per_hour(readings: list[tuple[datetime, int]]) -> float | None:
    """Rupiah spent per hour from balance readings (time, balance) over a period.

    Only decreases count: a top-up raises the balance and is not spending.
    """
    ordered = sorted(readings)
    if len(ordered) < 2:
        return None
    spent = sum(max(a[1] - b[1], 0) for a, b in pairwise(ordered))
    hours = (ordered[-1][0] - ordered[0][0]) / timedelta(hours=1)
    if hours <= 0:
        return None
    return spent / hours


# --- Conflicting outcomes ----------------------------------------------------------------


@dataclass(frozen=True)
class ConflictSnapshot:
    """A transaction whose answers disagree (or did, until IAK's check settled it), with
    its incident if one is open."""

    ref_id: str
    product_code: str | None
    customer_id: str | None
    stored: Outcome
    conflict_at: datetime | None  # None: settled by IAK's own check
    claims: tuple[Claim, ...]  # the final answers heard, oldest first
    iak: Claim | None  # IAK's latest check that gave a final outcome
    incident: Incident | None


def decide_conflict(snapshot: ConflictSnapshot, now: datetime) -> IncidentChange | None:
    """One incident per ref_id whose answers disagree; it says what each said and when,
    and resolves once IAK's own check has said which is true."""
    incident = snapshot.incident
    if incident is None:
        if snapshot.conflict_at is None:
            return None
        opened = ConflictDetails(
            ref_id=snapshot.ref_id,
            product_code=snapshot.product_code,
            customer_id=snapshot.customer_id,
            stored=snapshot.stored,
            since=snapshot.conflict_at,
            claims=snapshot.claims,
        )
        return IncidentChange(IncidentKind.CONFLICT, snapshot.ref_id, None, opened, (PostParent(),))
    before = incident.details
    assert isinstance(before, ConflictDetails)
    details = replace(before, stored=snapshot.stored, claims=snapshot.claims)
    if snapshot.conflict_at is None:
        said = snapshot.iak or Claim(Source.STATUS_CHECK, snapshot.stored, None, now)
        settled = ConflictSettled(said=said.outcome, rc=said.rc, before=before.stored)
        intents = (ThreadReply(settled, broadcast=True), UpdateParent())
        return IncidentChange(
            incident.kind, incident.key, incident.id, replace(details, iak=said), intents, True
        )
    if details == before:
        return None
    return IncidentChange(incident.kind, incident.key, incident.id, details, (UpdateParent(),))


# --- One product out of service -----------------------------------------------------------

# Codes that say one product cannot be sold (out of service, code unknown), not that sales
# are failing: their spikes are told per product, with what else can be sold instead.
PRODUCT_LEVEL_RCS = frozenset({"106", "20"})
MAX_ALTERNATIVES = 5


@dataclass(frozen=True)
class ProductActivity:
    """One product's recent failures with a product-level code."""

    product_code: str
    rcs: dict[str, int]  # failures per rc, window
    # all of them counted as one rc's would be (its `rc`: the most frequent code)
    failures: RcActivity


@dataclass(frozen=True)
class Offer:
    """What the cached price list says of a product: its operator and nominal, and the
    other active products of both. `fetched_at` None: no price list is cached."""

    operator: str | None = None
    nominal: str | None = None
    alternatives: tuple[Alternative, ...] = ()
    fetched_at: datetime | None = None


def offer_for(
    code: str, products: tuple[Product, ...] | None, fetched_at: datetime | None
) -> Offer:
    """The active products of the same operator and nominal as `code`, cheapest first."""
    if products is None or fetched_at is None:
        return Offer()
    wanted = code.lower()
    failing = next((p for p in products if p.code.lower() == wanted), None)
    if failing is None or failing.name is None or failing.nominal is None:
        return Offer(fetched_at=fetched_at)
    same = sorted(
        (
            p
            for p in products
            if p.active is True
            and p.code.lower() != wanted
            and (p.name or "").lower() == failing.name.lower()
            and (p.nominal or "").lower() == failing.nominal.lower()
        ),
        key=lambda p: (p.price is None, p.price or 0, p.code),
    )
    alternatives = tuple(Alternative(p.code, p.price) for p in same[:MAX_ALTERNATIVES])
    return Offer(failing.name, failing.nominal, alternatives, fetched_at)


def decide_product_outage(
    activity: ProductActivity,
    incident: Incident | None,
    now: datetime,
    config: MonitorConfig,
    offer: Offer,
) -> IncidentChange | None:
    """Open, update or resolve the incident of one product, as a spike of its failures is
    (thresholds, thread updates, resolution); its parent names the alternatives."""
    before = incident.details if incident is not None else None
    assert before is None or isinstance(before, ProductOutageDetails)
    inner = replace(incident, details=before.spike) if incident and before else None
    change = decide_spike(activity.failures, inner, now, config, stops_sales=False)
    key = activity.product_code
    if change is None:
        if incident is None or before is None:
            return None
        offered = _offered(before, offer)
        if offered == before:
            return None
        return IncidentChange(IncidentKind.PRODUCT, key, incident.id, offered, (UpdateParent(),))
    assert isinstance(change.details, SpikeDetails)
    details = _offered(
        ProductOutageDetails(
            product_code=key,
            spike=replace(change.details, products={}),
            rcs=activity.rcs or (before.rcs if before else {}),
        ),
        offer,
        before,
    )
    intents = change.intents
    moved = before is not None and _offer_of(details) != _offer_of(before)
    if moved and not any(isinstance(intent, UpdateParent) for intent in intents):
        intents = (*intents, UpdateParent())
    return replace(change, kind=IncidentKind.PRODUCT, key=key, details=details, intents=intents)


def _offer_of(details: ProductOutageDetails) -> tuple[object, ...]:
    return (details.operator, details.nominal, details.alternatives, details.price_list_at)


def _offered(
    details: ProductOutageDetails, offer: Offer, before: ProductOutageDetails | None = None
) -> ProductOutageDetails:
    """The details with the price list's offer, once there is one; an unchanged offer keeps
    the time of the list it came from, so a routine refresh edits nothing."""
    kept = before or details
    if offer.fetched_at is None:
        return replace(
            details,
            operator=kept.operator,
            nominal=kept.nominal,
            alternatives=kept.alternatives,
            price_list_at=kept.price_list_at,
        )
    same = (kept.operator, kept.nominal, kept.alternatives) == (
        offer.operator,
        offer.nominal,
        offer.alternatives,
    )
    return replace(
        details,
        operator=offer.operator,
        nominal=offer.nominal,
        alternatives=offer.alternatives,
        price_list_at=kept.price_list_at if same and kept.price_list_at else offer.fetched_at,
    )


# --- The same serial number twice ----------------------------------------------------------

# A serial incident resolves once acknowledged and this long after its latest delivery; the
# monitor never looks further back than this for new deliveries, so a resolved one does not
# open again unless the serial number is delivered once more.
SERIAL_QUIET = timedelta(hours=24)
# Each tick looks again at the deliveries of this last while: a callback's write may commit
# after the tick that followed it.
SERIAL_MARGIN = timedelta(minutes=5)


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


@dataclass(frozen=True)
class SerialSnapshot:
    """The successes that delivered one serial number, and its open incident if any."""

    serial: str
    total: int
    members: tuple[Member, ...]  # the first LISTED, oldest first
    latest_at: datetime  # when the latest of them succeeded
    incident: Incident | None


def decide_serial(snapshot: SerialSnapshot, now: datetime) -> IncidentChange | None:
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
        return IncidentChange(IncidentKind.SERIAL, key, None, details, (PostParent(),))
    before = incident.details
    assert isinstance(before, SerialDetails)
    quiet = now - max(snapshot.latest_at, before.latest_at) >= SERIAL_QUIET
    # Over when IAK's own check turned all but one into failures, or once someone has
    # taken it on and a day went by without another delivery.
    if snapshot.total < 2 or (quiet and incident.acknowledged_by is not None):
        resolved = Resolved(_lasted(incident, now), total=snapshot.total)
        return _resolution(incident, details, resolved)
    if details == before:
        return None
    intents: list[Intent] = []
    if snapshot.total > before.total:
        told = {member.ref_id for member in before.members}
        again = tuple(member for member in snapshot.members if member.ref_id not in told)
        intents.append(ThreadReply(SerialAgain(again, snapshot.total)))
    intents.append(UpdateParent())
    return IncidentChange(IncidentKind.SERIAL, key, incident.id, details, tuple(intents))


# --- IAK's callbacks --------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackActivity:
    """IAK's callbacks over the last CALLBACK_WINDOW."""

    # final outcomes the bot learned without a callback (its re-checks, forwarded answers)
    finals_without: int
    callbacks: int  # callbacks stored
    last_callback_at: datetime | None  # the last one stored, within the window
    # refused since the last one accepted, per reason
    refused: tuple[RefusedCallbacks, ...] = ()


def decide_callbacks(
    activity: CallbackActivity, incident: Incident | None, now: datetime, config: MonitorConfig
) -> IncidentChange | None:
    """One incident while IAK's callbacks are refused or missing, saying which; it resolves
    once a callback is accepted again."""
    refused = sum(item.count for item in activity.refused)
    if refused >= REFUSED_CALLBACKS:
        problem: CallbackProblem | None = CallbackProblem.REFUSED
    elif activity.finals_without >= MISSING_CALLBACK_FINALS and activity.callbacks == 0:
        problem = CallbackProblem.MISSING
    else:
        problem = None
    key = IncidentKind.CALLBACKS.value
    if incident is None:
        if problem is None:
            return None
        opened = CallbackDetails(
            problem=problem,
            finals_without=activity.finals_without,
            refused=activity.refused,
            window_seconds=CALLBACK_WINDOW.total_seconds(),
            iak_env=config.iak_env,
            iak_address=IAK_CALLBACK_IPS.get(config.iak_env),
            refreshed_at=now,
        )
        return IncidentChange(IncidentKind.CALLBACKS, key, None, opened, (PostParent(),))
    before = incident.details
    assert isinstance(before, CallbackDetails)
    accepted = activity.last_callback_at
    if accepted is not None and accepted > incident.opened_at:
        resolved = Resolved(_lasted(incident, now))
        return _resolution(incident, replace(before, refreshed_at=now), resolved)
    details = replace(
        before,
        problem=problem or before.problem,
        finals_without=activity.finals_without,
        refused=activity.refused or before.refused,
    )
    if details == before:
        return None
    if before.refreshed_at is not None and now - before.refreshed_at < REFRESH_PARENT_EVERY:
        return None
    details = replace(details, refreshed_at=now)
    return IncidentChange(incident.kind, key, incident.id, details, (UpdateParent(),))


# --- Nobody left alone with an incident -------------------------------------------------


def escalate_after(incident: Incident, config: MonitorConfig) -> timedelta:
    """How long an incident may go unacknowledged: ESCALATE_AFTER_SECONDS for a code that
    stops all sales, four times that for anything else."""
    if stops_sales(incident.details):
        return config.escalate_after
    return config.escalate_after * SLOWER_ESCALATION


def decide_follow_up(
    incident: Incident, now: datetime, config: MonitorConfig
) -> IncidentFollowUp | None:
    """What an open incident needs from people: a mute that ran out is told in its thread and
    the channel; one nobody acknowledged in time is re-announced to on-call, once; one
    acknowledged hours ago reminds whoever did, once."""
    if not incident.is_open or incident.parent_state not in (
        ParentState.QUEUED,
        ParentState.POSTED,
    ):
        return None  # no thread to say it in (held by a mute, or failed for good)
    if incident.muted_until is not None:
        if incident.muted_until > now:
            return None
        total, before = running_total(incident.details), incident.muted_total
        more = total - before if total is not None and before is not None else None
        ended = MuteEnded(muted_by=incident.muted_by, more=more)
        return IncidentFollowUp(
            incident.id, FollowUp.MUTE_ENDED, (ThreadReply(ended, broadcast=True),)
        )
    if incident.acknowledged_by is not None:
        since = incident.acknowledged_at
        if incident.reminded_at is None and since is not None and now - since >= REMIND_AFTER:
            reminder = Reminder(incident.acknowledged_by, (now - since).total_seconds())
            return IncidentFollowUp(incident.id, FollowUp.REMINDED, (ThreadReply(reminder),))
        return None
    if incident.escalated_at is None and now - incident.opened_at >= escalate_after(
        incident, config
    ):
        escalated = Escalated(open_seconds=_lasted(incident, now))
        return IncidentFollowUp(
            incident.id, FollowUp.ESCALATED, (ThreadReply(escalated, broadcast=True),)
        )
    return None


def _lasted(incident: Incident, now: datetime) -> float:
    return (now - incident.opened_at).total_seconds()


def _resolution(incident: Incident, details: IncidentDetails, said: Resolved) -> IncidentChange:
    """Resolve: a reply that says so (broadcast: the channel should know it is over) and the
    parent edited to show it."""
    intents = (ThreadReply(said, broadcast=True), UpdateParent())
    return IncidentChange(incident.kind, incident.key, incident.id, details, intents, True)


# --- The daily digest ----------------------------------------------------------------------


def digest_due(now: datetime, at: time | None) -> date | None:
    """The WIB day whose digest is due: yesterday, once today's DIGEST_TIME has come.

    It stays due for the rest of the day, so a digest no process was up to post at that
    minute goes out when one comes back; the day after, it is too late to be news.
    """
    if at is None:
        return None
    local = now.astimezone(WIB)
    if local.time() < at:
        return None
    return local.date() - timedelta(days=1)
