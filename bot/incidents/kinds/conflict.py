"""Conflicting outcomes: one incident per ref_id whose answers disagree on whether it
succeeded; it says what each answer said and when, and resolves once IAK's own check (asked
at once, see `bot.incidents.rechecks`) has said which is true."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import ClassVar

from sqlalchemy import Connection, select

from bot.incidents.model import (
    Details,
    Incident,
    IncidentChange,
    IncidentKind,
    PostParent,
    Reply,
    ThreadReply,
    UpdateParent,
)
from bot.incidents.watch import Tick, WatchContext
from bot.outcomes import FINAL_VALUES, Outcome, Source
from bot.store.schema import transaction_events, transactions

KIND = IncidentKind.CONFLICT
# final answers listed for one conflicting transaction
MAX_CLAIMS = 10
_CHUNK = 500
t = transactions.c


@dataclass(frozen=True)
class Claim:
    """What one answer said of a transaction's outcome, and when."""

    source: Source
    outcome: Outcome
    rc: str | None
    at: datetime


@dataclass(frozen=True)
class ConflictDetails(Details):
    """Answers that disagree on whether a transaction succeeded, and what IAK says now."""

    ref_id: str
    product_code: str | None
    customer_id: str | None
    stored: Outcome  # the outcome the bot holds now
    since: datetime  # when the contradicting answer came
    claims: tuple[Claim, ...] = ()  # the final answers heard, oldest first
    iak: Claim | None = None  # IAK's own check, once it gave an outcome


@dataclass(frozen=True)
class ConflictSettled(Reply):
    """IAK's own check answered: the outcome it gave, and what the bot held before."""

    kind: ClassVar[str] = "conflict_settled"
    said: Outcome
    rc: str | None
    before: Outcome


DETAILS = ConflictDetails
REPLIES = (ConflictSettled,)


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


# --- The decision (pure) -------------------------------------------------------------------


def decide(snapshot: ConflictSnapshot, now: datetime) -> IncidentChange | None:
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
        return IncidentChange(KIND, snapshot.ref_id, None, opened, (PostParent(),))
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


# --- What it gathers (SQL, in the tick's transaction) ------------------------------------------


def conflicts(
    connection: Connection, open_incidents: dict[str, Incident]
) -> list[ConflictSnapshot]:
    """Transactions whose answers disagree, and those whose conflict incident is still open
    (to resolve it once IAK has settled it): what each answer said, and what IAK says."""
    columns = (t.ref_id, t.product_code, t.customer_id, t.outcome, t.conflict_at)
    # Two statements, not one with OR: each stays on its index (the partial one on
    # conflict_at, the primary key), where an OR would read the whole table.
    rows = list(connection.execute(select(*columns).where(t.conflict_at.is_not(None))).all())
    listed = {row.ref_id for row in rows}
    settled = [ref_id for ref_id in open_incidents if ref_id not in listed]
    for start in range(0, len(settled), _CHUNK):
        chunk = settled[start : start + _CHUNK]
        rows += connection.execute(select(*columns).where(t.ref_id.in_(chunk))).all()
    e = transaction_events.c
    snapshots = []
    for row in rows:
        heard = connection.execute(
            select(e.source, e.outcome, e.rc, e.observed_at)
            .where(e.ref_id == row.ref_id, e.outcome.in_(FINAL_VALUES))
            .order_by(e.id)
            .limit(MAX_CLAIMS)
        ).all()
        claims = tuple(
            Claim(Source(h.source), Outcome(h.outcome), h.rc, h.observed_at) for h in heard
        )
        checks = [claim for claim in claims if claim.source is Source.STATUS_CHECK]
        snapshots.append(
            ConflictSnapshot(
                ref_id=row.ref_id,
                product_code=row.product_code,
                customer_id=row.customer_id,
                stored=Outcome(row.outcome),
                conflict_at=row.conflict_at,
                claims=claims,
                iak=checks[-1] if checks else None,
                incident=open_incidents.get(row.ref_id),
            )
        )
    return snapshots


# --- The watch ---------------------------------------------------------------------------------


class ConflictWatch:
    """One incident per ref_id whose answers disagree."""

    def run(self, tick: Tick) -> None:
        """One tick: each disagreement, decided and written."""
        for disagreement in conflicts(tick.connection, tick.open_incidents(KIND)):
            tick.apply(decide(disagreement, tick.now))


def watch(context: WatchContext) -> ConflictWatch:
    """The conflict watch."""
    return ConflictWatch()
