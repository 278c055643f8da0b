"""The monitor's SQL over transactions and their history (one connection, the caller's
transaction): snapshots for the decisions, and the monitor's bookkeeping on transactions.
Incidents, their outbox and the lease are the repository's (bot.alerts.repository)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from bot.alerts.model import Claim, Incident, RefusedCallbacks, SpikeDetails
from bot.monitor.decisions import (
    CALLBACK_WINDOW,
    STOP_CHECKING_AFTER,
    CallbackActivity,
    ConflictSnapshot,
    DepositReading,
    MonitorConfig,
    PendingSnapshot,
    RcActivity,
    sparkline_counts,
    spend_per_hour,
)
from bot.outcomes import NOT_FINAL, Outcome, Refusal, Source
from bot.store.reports import balance_readings, failures_by_rc, latest_balance
from bot.store.schema import UTCDateTime, callback_refusals, transaction_events, transactions
from bot.store.transactions import PendingTransaction

_NOT_FINAL = [outcome.value for outcome in NOT_FINAL]
_FINAL = [outcome.value for outcome in Outcome if outcome.is_final]
MAX_JOIN_PER_TICK = 5000
# final answers listed for one conflicting transaction
MAX_CLAIMS = 10
MAX_TOLD_PER_TICK = 5000
_CHUNK = 500
t = transactions.c


_PENDING_COLUMNS = (
    t.ref_id,
    t.product_code,
    t.customer_id,
    t.started_at,
    t.outcome,
    t.rc,
    t.checks_stopped_at,
)


def _pending(row: Any) -> PendingTransaction:
    return PendingTransaction(
        ref_id=row.ref_id,
        product_code=row.product_code,
        customer_id=row.customer_id,
        started_at=row.started_at,
        outcome=Outcome(row.outcome),
        rc=row.rc,
        checks_stopped_at=row.checks_stopped_at,
    )


def pending_snapshot(
    connection: Connection, incident: Incident | None, now: datetime, config: MonitorConfig
) -> PendingSnapshot:
    """The open pending incident (if any) and the transactions that concern it."""
    newly_aged = aged_out(connection, now - config.age_out, MAX_JOIN_PER_TICK)
    if incident is None:
        return PendingSnapshot(None, newly_aged, (), 0)
    member = t.incident_id == incident.id
    still_waiting = and_(member, t.outcome.in_(_NOT_FINAL), t.checks_stopped_at.is_(None))
    finished = connection.execute(
        select(*_PENDING_COLUMNS)
        .where(
            member,
            t.announced.is_(False),
            or_(t.outcome.in_(_FINAL), t.checks_stopped_at.is_not(None)),
        )
        .order_by(t.started_at)
        .limit(MAX_TOLD_PER_TICK)
    ).all()
    waiting = connection.execute(select(func.count()).where(still_waiting)).scalar_one()
    oldest = connection.execute(
        select(*_PENDING_COLUMNS).where(still_waiting).order_by(t.started_at).limit(20)
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
        .where(t.outcome.in_(_NOT_FINAL), t.incident_id.is_(None), t.started_at < cutoff)
        .order_by(t.started_at)
        .limit(limit)
    ).all()
    return tuple(_pending(row) for row in rows)


def rc_activity(
    connection: Connection,
    now: datetime,
    config: MonitorConfig,
    open_spikes: dict[str, Incident],
    needs_detail: Callable[[str, int, int], bool],
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
            .where(failed_rc, t.started_at >= window_start)
            .group_by(t.product_code)
        ).all()
        hour = connection.execute(
            select(t.started_at).where(failed_rc, t.started_at >= now - timedelta(hours=1))
        ).scalars()
        total = None
        if incident is not None:
            total = int(
                connection.execute(
                    select(func.count()).where(failed_rc, t.started_at >= _started(incident))
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


def _started(spike: Incident) -> datetime:
    """Where a spike's count begins: the window whose failures opened it."""
    assert isinstance(spike.details, SpikeDetails)
    return spike.opened_at - timedelta(seconds=spike.details.window_seconds)


def deposit_reading(connection: Connection, now: datetime) -> DepositReading | None:
    """The latest balance IAK reported and the spend rate over the last hour."""
    latest = latest_balance(connection)
    if latest is None:
        return None
    balance, observed_at = latest
    readings = balance_readings(connection, now - timedelta(hours=1))
    return DepositReading(balance, observed_at, spend_per_hour(readings))


def set_members(connection: Connection, ref_ids: Sequence[str], **values: Any) -> None:
    """Update the monitor's columns of some transactions."""
    for chunk in _chunks(ref_ids):
        connection.execute(update(transactions).where(t.ref_id.in_(chunk)).values(values))


def due_rechecks(
    connection: Connection, now: datetime, config: MonitorConfig, limit: int
) -> list[tuple[str, datetime, int]]:
    """Pending transactions due a re-check at IAK, most overdue first: (ref_id, started,
    checks so far). A transaction is first due one monitor interval after it started, and
    never once it started 24 hours ago (an imported old one is not asked about at all)."""
    never_checked = connection.execute(
        select(t.ref_id, t.started_at, t.checks, t.started_at.label("due"))
        .where(
            t.outcome.in_(_NOT_FINAL),
            t.next_check_at.is_(None),
            t.checks == 0,
            t.started_at <= now - config.interval,
            t.started_at > now - STOP_CHECKING_AFTER,
        )
        .order_by(t.started_at)
        .limit(limit)
    ).all()
    rechecked = connection.execute(
        select(t.ref_id, t.started_at, t.checks, t.next_check_at.label("due"))
        .where(t.outcome.in_(_NOT_FINAL), t.next_check_at <= now)
        .order_by(t.next_check_at)
        .limit(limit)
    ).all()
    # Conflicting outcomes: asked at once, then as re-checks back off, counted from when
    # the contradiction came (a check from its pending days does not count).
    conflicted = connection.execute(
        select(t.ref_id, t.conflict_at.label("started_at"), t.checks, t.conflict_at.label("due"))
        .where(
            t.conflict_at.is_not(None),
            or_(
                t.next_check_at.is_(None),
                t.next_check_at <= now,
                t.next_check_at < t.conflict_at,
            ),
            or_(t.checks_stopped_at.is_(None), t.checks_stopped_at < t.conflict_at),
        )
        .limit(limit)
    ).all()
    rows = sorted([*conflicted, *never_checked, *rechecked], key=lambda row: row.due)[:limit]
    return [(row.ref_id, row.started_at, int(row.checks)) for row in rows]


def conflicts(
    connection: Connection, open_incidents: dict[str, Incident]
) -> list[ConflictSnapshot]:
    """Transactions whose answers disagree, and those whose conflict incident is still open
    (to resolve it once IAK has settled it): what each answer said, and what IAK says."""
    rows = connection.execute(
        select(t.ref_id, t.product_code, t.customer_id, t.outcome, t.conflict_at).where(
            or_(t.conflict_at.is_not(None), t.ref_id.in_(list(open_incidents)))
        )
    ).all()
    e = transaction_events.c
    snapshots = []
    for row in rows:
        heard = connection.execute(
            select(e.source, e.outcome, e.rc, e.observed_at)
            .where(e.ref_id == row.ref_id, e.outcome.in_(_FINAL))
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
        select(t.ref_id, t.started_at, t.checks)
        .where(
            t.incident_id == incident_id,
            t.outcome.in_(_NOT_FINAL),
            t.checks_stopped_at.is_(None),
        )
        .order_by(t.started_at)
        .limit(limit)
    ).all()
    return [(row.ref_id, row.started_at, int(row.checks)) for row in rows]


# Refused callbacks are kept this long (the monitor only looks back one window).
KEEP_REFUSALS = timedelta(days=2)


def callback_activity(connection: Connection, now: datetime) -> CallbackActivity:
    """IAK's callbacks over the last window: outcomes learned without one, those stored, and
    those refused since the last one stored. The history knows where each answer came from;
    refusals are what the intake of every process counted (bot.store.callbacks)."""
    since = now - CALLBACK_WINDOW
    e = transaction_events.c
    callbacks, last = connection.execute(
        select(func.count(), func.max(e.observed_at, type_=UTCDateTime())).where(
            e.observed_at >= since, e.source == Source.CALLBACK.value
        )
    ).one()
    # the answers that made a transaction final, from anywhere but a callback
    finals_without = connection.execute(
        select(func.count()).where(
            e.observed_at >= since,
            e.source != Source.CALLBACK.value,
            e.applied.is_(True),
            e.outcome.in_(_FINAL),
        )
    ).scalar_one()
    last_callback_at: datetime | None = last
    r = callback_refusals.c
    after = since if last_callback_at is None else max(since, last_callback_at)
    rows = connection.execute(
        select(r.reason, r.count, r.last_at, r.address, r.detail)
        .where(r.last_at >= since, r.last_at > after)
        .order_by(r.last_at, r.id)
    ).all()
    refused: dict[Refusal, RefusedCallbacks] = {}
    for row in rows:
        try:
            reason = Refusal(row.reason)
        except ValueError:
            continue  # written by a newer version
        before = refused.get(reason)
        refused[reason] = RefusedCallbacks(
            reason=reason,
            count=int(row[1]) + (before.count if before else 0),
            last_at=row.last_at,
            address=row.address,
            detail=row.detail,
        )
    return CallbackActivity(
        finals_without=int(finals_without),
        callbacks=int(callbacks),
        last_callback_at=last_callback_at,
        refused=tuple(refused[reason] for reason in Refusal if reason in refused),
    )


def prune_refusals(connection: Connection, now: datetime) -> None:
    """Forget refused callbacks nobody looks at any more."""
    r = callback_refusals.c
    connection.execute(callback_refusals.delete().where(r.last_at < now - KEEP_REFUSALS))
