"""Pending too long: transactions still pending past PENDING_AGE_OUT_SECONDS share one
incident; their outcomes follow in its thread; it resolves once none is left waiting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import Connection, and_, func, or_, select, union_all

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
)
from bot.incidents.watch import Tick, WatchContext
from bot.outcomes import FINAL_VALUES, NOT_FINAL_VALUES, Line, Outcome
from bot.shapes import DbRow
from bot.store.schema import transactions
from bot.store.transactions import PendingTransaction, join_incident, mark_announced

KIND = IncidentKind.PENDING
# A tick joins at most this many aged-out transactions to the incident (the oldest first);
# a backlog (after the monitor was down, or IAK stopped answering) joins over the next
# ticks, a reply in the thread for each. Joining costs a write of every row and its index
# entries: 1000 is about 50 ms of a tick at 10,000,000 rows on Postgres (5,000 was 290 ms).
MAX_JOIN_PER_TICK = 1000
MAX_TOLD_PER_TICK = 5000
t = transactions.c


@dataclass(frozen=True)
class PendingDetails(Details):
    """Transactions pending too long: how many joined, how they settled, the oldest waiting."""

    total: int = 0
    waiting: int = 0
    succeeded: int = 0
    failed: int = 0
    gave_up: int = 0
    members: tuple[Member, ...] = ()

    def running_total(self) -> int | None:
        return self.total


@dataclass(frozen=True)
class PendingJoined(Reply):
    """More transactions aged out into an open pending incident."""

    kind: ClassVar[str] = "pending_joined"
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
class PendingOutcomes(Reply):
    """Long-pending transactions that settled since the last reply."""

    kind: ClassVar[str] = "pending_outcomes"
    items: tuple[Settled, ...]
    more: int  # settled but not listed


DETAILS = PendingDetails
REPLIES = (PendingJoined, PendingOutcomes)


# --- The decision (pure) -------------------------------------------------------------------


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


def decide(snapshot: PendingSnapshot, now: datetime) -> PendingDecision:
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
        KIND,
        KIND.value,
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


# --- What it gathers (SQL, in the tick's transaction) ------------------------------------------


_PENDING_COLUMNS = (
    t.ref_id,
    t.product_code,
    t.customer_id,
    t.started_at,
    t.outcome,
    t.rc,
    t.checks_stopped_at,
    t.line,
)


def _pending(row: DbRow) -> PendingTransaction:
    return PendingTransaction(
        ref_id=row.ref_id,
        product_code=row.product_code,
        customer_id=row.customer_id,
        started_at=row.started_at,
        outcome=Outcome(row.outcome),
        rc=row.rc,
        checks_stopped_at=row.checks_stopped_at,
        line=Line(row.line),
    )


def snapshot(
    connection: Connection, incident: Incident | None, now: datetime, age_out: Any
) -> PendingSnapshot:
    """The open pending incident (if any) and the transactions that concern it."""
    newly_aged = aged_out(connection, now - age_out, MAX_JOIN_PER_TICK)
    if incident is None:
        return PendingSnapshot(None, newly_aged, (), 0)
    in_it = t.incident_id == incident.id
    still_waiting = and_(in_it, t.outcome.in_(NOT_FINAL_VALUES), t.checks_stopped_at.is_(None))
    finished = connection.execute(
        select(*_PENDING_COLUMNS)
        .where(
            in_it,
            t.announced.is_(False),
            or_(t.outcome.in_(FINAL_VALUES), t.checks_stopped_at.is_not(None)),
        )
        .order_by(t.started_at)
        .limit(MAX_TOLD_PER_TICK)
    ).all()
    waiting = connection.execute(select(func.count()).where(still_waiting)).scalar_one()
    oldest = connection.execute(
        select(*_PENDING_COLUMNS).where(still_waiting).order_by(t.started_at).limit(LISTED)
    ).all()
    return PendingSnapshot(
        incident,
        newly_aged,
        tuple(_pending(row) for row in finished),
        int(waiting),
        tuple(_pending(row) for row in oldest),
    )


def aged_out(
    connection: Connection, cutoff: datetime, limit: int
) -> tuple[PendingTransaction, ...]:
    """The monitor's "pending transactions older than T": still pending, first seen before
    `cutoff`, in no incident yet; oldest first.

    One ordered walk of the (outcome, incident_id, started_at) index per outcome, merged: an
    IN over both outcomes cannot be walked in order, and Postgres would read and sort every
    pending transaction. Each walk is ordered by incident_id too (NULL in all of them), so
    that the planner walks that index rather than the covering one, where it would skip the
    transactions already in an incident one by one, through the table."""
    walks = [
        select(*_PENDING_COLUMNS)
        .where(t.outcome == outcome, t.incident_id.is_(None), t.started_at < cutoff)
        .order_by(t.incident_id, t.started_at)
        .limit(limit)
        .subquery()
        for outcome in NOT_FINAL_VALUES
    ]
    merged = union_all(*(select(*walk.c) for walk in walks)).subquery()
    rows = connection.execute(select(*merged.c).order_by(merged.c.started_at).limit(limit)).all()
    return tuple(_pending(row) for row in rows)


# --- The watch ---------------------------------------------------------------------------------


class PendingWatch:
    """Joins aged-out transactions to the incident and tells their outcomes."""

    def __init__(self, context: WatchContext) -> None:
        self.config = context.config

    def run(self, tick: Tick) -> None:
        """One tick: gather, decide, write, and mark the transactions joined and told."""
        gathered = snapshot(
            tick.connection, tick.open_incident(KIND), tick.now, self.config.age_out
        )
        decision = decide(gathered, tick.now)
        if decision.change is None:
            return
        incident_id = tick.apply(decision.change)
        if incident_id is not None:
            join_incident(tick.connection, decision.join, incident_id)
        mark_announced(tick.connection, decision.announce)


def watch(context: WatchContext) -> PendingWatch:
    """The pending watch."""
    return PendingWatch(context)
