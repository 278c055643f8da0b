"""The monitor's SQL over transactions and their history (one connection, the caller's
transaction): snapshots for the decisions, and writing the decisions back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, insert, or_, select, update

from bot.alerts.model import Incident, IncidentKind, IncidentStatus, Intent, OutboxAction
from bot.alerts.store import incident_from_row, write_intents
from bot.iak.models import Outcome
from bot.monitor.decisions import (
    DepositReading,
    IncidentChange,
    MonitorConfig,
    PendingSnapshot,
    PendingTransaction,
    RcActivity,
    sparkline_counts,
    spend_per_hour,
)
from bot.store.schema import incidents, mutes, transaction_events, transactions
from bot.store.transactions import failures_by_rc

NOT_FINAL = (Outcome.PENDING.value, Outcome.UNKNOWN.value)
FINAL = (Outcome.SUCCESS.value, Outcome.FAILED.value)
MAX_JOIN_PER_TICK = 5000
MAX_TOLD_PER_TICK = 5000
_CHUNK = 500
t = transactions.c


def open_incident(connection: Connection, kind: IncidentKind, key: str) -> Incident | None:
    """The open incident of that kind and key, if any."""
    row = connection.execute(
        select(incidents).where(
            incidents.c.kind == kind.value,
            incidents.c.key == key,
            incidents.c.status == IncidentStatus.OPEN.value,
        )
    ).first()
    return incident_from_row(row) if row else None


def open_incidents_of(connection: Connection, kind: IncidentKind) -> dict[str, Incident]:
    """Open incidents of one kind, by key."""
    rows = connection.execute(
        select(incidents).where(
            incidents.c.kind == kind.value, incidents.c.status == IncidentStatus.OPEN.value
        )
    ).all()
    return {row.key: incident_from_row(row) for row in rows}


_PENDING_COLUMNS = (
    t.ref_id,
    t.product_code,
    t.customer_id,
    t.first_seen_at,
    t.outcome,
    t.rc,
    t.checks_stopped_at,
)


def _pending(row: Any) -> PendingTransaction:
    return PendingTransaction(
        ref_id=row.ref_id,
        product_code=row.product_code,
        customer_id=row.customer_id,
        first_seen_at=row.first_seen_at,
        outcome=Outcome(row.outcome),
        rc=row.rc,
        checks_stopped_at=row.checks_stopped_at,
    )


def pending_snapshot(
    connection: Connection, now: datetime, config: MonitorConfig
) -> PendingSnapshot:
    """The open pending incident and what concerns it."""
    incident = open_incident(connection, IncidentKind.PENDING, IncidentKind.PENDING.value)
    newly_aged = aged_out(connection, now - config.age_out, MAX_JOIN_PER_TICK)
    if incident is None:
        return PendingSnapshot(None, newly_aged, (), 0)
    member = t.incident_id == incident.id
    still_waiting = and_(member, t.outcome.in_(NOT_FINAL), t.checks_stopped_at.is_(None))
    finished = connection.execute(
        select(*_PENDING_COLUMNS)
        .where(
            member,
            t.announced.is_(False),
            or_(t.outcome.in_(FINAL), t.checks_stopped_at.is_not(None)),
        )
        .order_by(t.first_seen_at)
        .limit(MAX_TOLD_PER_TICK)
    ).all()
    waiting = connection.execute(select(func.count()).where(still_waiting)).scalar_one()
    oldest = connection.execute(
        select(*_PENDING_COLUMNS).where(still_waiting).order_by(t.first_seen_at).limit(20)
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
    `cutoff`, in no incident yet; oldest first."""
    rows = connection.execute(
        select(*_PENDING_COLUMNS)
        .where(t.outcome.in_(NOT_FINAL), t.incident_id.is_(None), t.first_seen_at < cutoff)
        .order_by(t.first_seen_at)
        .limit(limit)
    ).all()
    return tuple(_pending(row) for row in rows)


def rc_activity(
    connection: Connection,
    now: datetime,
    config: MonitorConfig,
    open_spikes: dict[str, Incident],
    needs_detail: Any,
) -> list[RcActivity]:
    """Each rc failing now (or with an open incident): its window count and baseline.

    Products, the sparkline and the total since the incident opened are only read for rcs
    where `needs_detail(rc, window_count, baseline_count)` says an incident is possible.
    """
    window_start = now - config.spike_window
    window = failures_by_rc(connection, window_start, now + timedelta(seconds=1))
    baseline = failures_by_rc(connection, window_start - timedelta(hours=24), window_start)
    activities = []
    for rc in sorted(set(window) | set(open_spikes)):
        count, base = window.get(rc, 0), baseline.get(rc, 0)
        incident = open_spikes.get(rc)
        if incident is None and not needs_detail(rc, count, base):
            continue
        failed_rc = and_(t.outcome == Outcome.FAILED.value, t.rc == rc)
        products = connection.execute(
            select(t.product_code, func.count())
            .where(failed_rc, t.final_at >= window_start)
            .group_by(t.product_code)
        ).all()
        hour = connection.execute(
            select(t.final_at).where(failed_rc, t.final_at >= now - timedelta(hours=1))
        ).scalars()
        total = None
        if incident is not None:
            total = int(
                connection.execute(
                    select(func.count()).where(failed_rc, t.final_at >= incident.opened_at)
                ).scalar_one()
            )
        activities.append(
            RcActivity(
                rc=rc,
                window_count=count,
                baseline_count=base,
                products={str(code or "?"): int(n) for code, n in products},
                sparkline=sparkline_counts(list(hour), now),
                total_since_open=total,
            )
        )
    return activities


def deposit_reading(connection: Connection, now: datetime) -> DepositReading | None:
    """The latest balance IAK reported and the spend rate over the last hour."""
    e = transaction_events.c
    latest = connection.execute(
        select(e.balance, e.observed_at)
        .where(e.balance.is_not(None))
        .order_by(e.observed_at.desc(), e.id.desc())
        .limit(1)
    ).first()
    if latest is None:
        return None
    hour = connection.execute(
        select(e.observed_at, e.balance).where(
            e.balance.is_not(None), e.observed_at >= now - timedelta(hours=1)
        )
    ).all()
    readings = [(at, int(balance)) for at, balance in hour]
    return DepositReading(int(latest.balance), latest.observed_at, spend_per_hour(readings))


def apply_change(
    connection: Connection, change: IncidentChange, now: datetime, channel: str
) -> int:
    """Write an incident change and its outbox rows; returns the incident's id.

    A muted incident sends no new message: replies are dropped, and the parent of an
    incident that opens under a standing mute of its rc is held back until the mute ends
    (`release_held_parents`). Edits of a posted parent still go out; they notify no one.
    """
    intents = list(change.intents)
    if change.incident_id is None:
        standing = connection.execute(
            select(mutes.c.until, mutes.c.muted_by).where(
                mutes.c.kind == change.kind.value, mutes.c.key == change.key, mutes.c.until > now
            )
        ).first()
        details = dict(change.details)
        if standing is not None:
            details["held_parent"] = True
            intents = []
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
                    muted_until=standing.until if standing else None,
                    muted_by=standing.muted_by if standing else None,
                )
                .returning(incidents.c.id)
            ).scalar_one()
        )
    else:
        incident_id = change.incident_id
        row = connection.execute(
            select(incidents.c.muted_until, incidents.c.details).where(
                incidents.c.id == incident_id
            )
        ).one()
        details = dict(change.details)
        held = bool((row.details or {}).get("held_parent"))
        if held:
            details["held_parent"] = True
        values: dict[str, Any] = {"details": details, "updated_at": now}
        if change.resolve:
            values.update(status=IncidentStatus.RESOLVED.value, resolved_at=now)
        connection.execute(update(incidents).where(incidents.c.id == incident_id).values(values))
        if held:
            intents = []  # never posted, never to be: nothing to edit or reply under
        elif row.muted_until is not None and row.muted_until > now:
            intents = [i for i in intents if i.action is not OutboxAction.REPLY]
    write_intents(connection, incident_id, channel, intents, now)
    return incident_id


def release_held_parents(connection: Connection, now: datetime) -> int:
    """Post the parents of open incidents whose mute has ended; returns how many."""
    rows = connection.execute(
        select(
            incidents.c.id, incidents.c.channel, incidents.c.details, incidents.c.muted_until
        ).where(incidents.c.status == IncidentStatus.OPEN.value)
    ).all()
    released = 0
    for row in rows:
        details = dict(row.details or {})
        if not details.get("held_parent") or (
            row.muted_until is not None and row.muted_until > now
        ):
            continue
        details.pop("held_parent")
        connection.execute(
            update(incidents).where(incidents.c.id == row.id).values(details=details)
        )
        write_intents(connection, row.id, row.channel or "", [Intent.post_parent()], now)
        released += 1
    return released


def set_members(connection: Connection, ref_ids: Sequence[str], **values: Any) -> None:
    """Update the monitor's columns of some transactions."""
    for chunk in _chunks(ref_ids):
        connection.execute(update(transactions).where(t.ref_id.in_(chunk)).values(values))


def due_rechecks(
    connection: Connection, now: datetime, config: MonitorConfig, limit: int
) -> list[tuple[str, datetime, int]]:
    """Pending transactions due a re-check at IAK, most overdue first: (ref_id, first seen,
    checks so far). A transaction is first due one monitor interval after it was seen."""
    never_checked = connection.execute(
        select(t.ref_id, t.first_seen_at, t.checks, t.first_seen_at.label("due"))
        .where(
            t.outcome.in_(NOT_FINAL),
            t.next_check_at.is_(None),
            t.checks == 0,
            t.first_seen_at <= now - config.interval,
        )
        .order_by(t.first_seen_at)
        .limit(limit)
    ).all()
    rechecked = connection.execute(
        select(t.ref_id, t.first_seen_at, t.checks, t.next_check_at.label("due"))
        .where(t.outcome.in_(NOT_FINAL), t.next_check_at <= now)
        .order_by(t.next_check_at)
        .limit(limit)
    ).all()
    rows = sorted([*never_checked, *rechecked], key=lambda row: row.due)[:limit]
    return [(row.ref_id, row.first_seen_at, int(row.checks)) for row in rows]


def record_check(
    connection: Connection, ref_id: str, checks: int, next_at: datetime | None, now: datetime
) -> None:
    """After a re-check: when the next one is due, or that the monitor gave up."""
    values: dict[str, Any] = {"checks": checks, "next_check_at": next_at}
    if next_at is None:
        values["checks_stopped_at"] = now
    connection.execute(update(transactions).where(t.ref_id == ref_id).values(values))


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def waiting_members(
    connection: Connection, incident_id: int, limit: int
) -> list[tuple[str, datetime, int]]:
    """The pending incident's transactions still waiting: (ref_id, first seen, checks)."""
    rows = connection.execute(
        select(t.ref_id, t.first_seen_at, t.checks)
        .where(
            t.incident_id == incident_id,
            t.outcome.in_(NOT_FINAL),
            t.checks_stopped_at.is_(None),
        )
        .order_by(t.first_seen_at)
        .limit(limit)
    ).all()
    return [(row.ref_id, row.first_seen_at, int(row.checks)) for row in rows]


def pending_by_age(connection: Connection, now: datetime, edges: Sequence[timedelta]) -> list[int]:
    """How many transactions are pending per age band: younger than edges[0], then between
    consecutive edges, then older than the last."""
    bounds = [now - edge for edge in edges]
    counts = []
    newer: datetime | None = None
    for bound in [*bounds, None]:
        conditions: list[ColumnElement[bool]] = [t.outcome.in_(NOT_FINAL)]
        if newer is not None:
            conditions.append(t.first_seen_at <= newer)
        if bound is not None:
            conditions.append(t.first_seen_at > bound)
        counts.append(int(connection.execute(select(func.count()).where(*conditions)).scalar_one()))
        newer = bound
    return counts
