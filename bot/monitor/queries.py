"""The monitor's SQL over transactions and their history (one connection, the caller's
transaction): snapshots for the decisions, and the monitor's bookkeeping on transactions.
Incidents, their outbox and the lease are the repository's (bot.alerts.repository)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, func, or_, select, update

from bot.alerts.model import (
    Claim,
    CodeCount,
    DigestDetails,
    Incident,
    IncidentKind,
    ProductFailures,
    SpikeDetails,
)
from bot.alerts.repository import IncidentRepository, open_incident_exists
from bot.clock import wib_day
from bot.monitor.decisions import (
    STOP_CHECKING_AFTER,
    ConflictSnapshot,
    DepositReading,
    MonitorConfig,
    PendingSnapshot,
    RcActivity,
    sparkline_counts,
    spend_per_hour,
)
from bot.outcomes import NOT_FINAL, Line, Outcome, Source, split_code_key
from bot.store import reports
from bot.store.reports import balance_readings, failures_by_rc, latest_balance
from bot.store.schema import transaction_events, transactions
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
    t.line,
)


class Recheck(NamedTuple):
    """A pending transaction to ask IAK about again, through its line's check-status."""

    ref_id: str
    started_at: datetime
    checks: int  # asked so far
    line: Line = Line.PREPAID


def _pending(row: Any) -> PendingTransaction:
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
    """Each code failing now (or with an open incident), per line and rc: its window count
    and baseline. `open_spikes` and `needs_detail` name codes by their key (`06`,
    `postpaid 06`).

    Products, the sparkline and the total since the incident opened are only read for codes
    where `needs_detail(key, window_count, baseline_count)` says an incident is possible.
    """
    window_start = now - config.spike_window
    window = failures_by_rc(connection, window_start, now + timedelta(seconds=1))
    baseline = failures_by_rc(connection, window_start - timedelta(hours=24), window_start)
    activities = []
    for key in sorted(set(window) | set(open_spikes)):
        count, base = window.get(key, 0), baseline.get(key, 0)
        incident = open_spikes.get(key)
        if incident is None and not needs_detail(key, count, base):
            continue
        line, rc = split_code_key(key)
        failed_rc = and_(t.outcome == Outcome.FAILED.value, t.rc == rc, t.line == line.value)
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
                line=line,
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
) -> list[Recheck]:
    """Pending transactions due a re-check at IAK, most overdue first. A transaction is
    first due one monitor interval after it started, and never once it started 24 hours
    ago (an imported old one is not asked about at all)."""
    never_checked = connection.execute(
        select(t.ref_id, t.started_at, t.checks, t.line, t.started_at.label("due"))
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
        select(t.ref_id, t.started_at, t.checks, t.line, t.next_check_at.label("due"))
        .where(t.outcome.in_(_NOT_FINAL), t.next_check_at <= now)
        .order_by(t.next_check_at)
        .limit(limit)
    ).all()
    # Conflicting outcomes: asked at once, then as re-checks back off, counted from when
    # the contradiction came (a check from its pending days does not count). Only once its
    # incident is open: IAK's answer settles the conflict, and one settled before a tick
    # saw it would never reach the channel.
    told = open_incident_exists(IncidentKind.CONFLICT, t.ref_id)
    conflicted = connection.execute(
        select(
            t.ref_id,
            t.conflict_at.label("started_at"),
            t.checks,
            t.line,
            t.conflict_at.label("due"),
        )
        .where(
            t.conflict_at.is_not(None),
            told,
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
    return [_recheck(row) for row in rows]


def _recheck(row: Any) -> Recheck:
    return Recheck(row.ref_id, row.started_at, int(row.checks), Line(row.line))


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
    for chunk in _chunks(settled):
        rows += connection.execute(select(*columns).where(t.ref_id.in_(chunk))).all()
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


def waiting_members(connection: Connection, incident_id: int, limit: int) -> list[Recheck]:
    """The pending incident's transactions still waiting, oldest first."""
    rows = connection.execute(
        select(t.ref_id, t.started_at, t.checks, t.line)
        .where(
            t.incident_id == incident_id,
            t.outcome.in_(_NOT_FINAL),
            t.checks_stopped_at.is_(None),
        )
        .order_by(t.started_at)
        .limit(limit)
    ).all()
    return [_recheck(row) for row in rows]


# --- The daily digest ----------------------------------------------------------------------

DIGEST_CODES = 8
DIGEST_PRODUCTS = 5
# A product's failure rate means something only over this many of its transactions.
DIGEST_MIN_PRODUCT_VOLUME = 10
_WEEK = 7


def digest_details(
    connection: Connection, incidents: IncidentRepository, day: date, now: datetime
) -> DigestDetails:
    """The figures of one WIB day's digest, as the store holds them at `now`."""
    start, end = wib_day(day)
    outcomes = reports.outcome_counts(connection, start, end)
    week = reports.outcome_counts(connection, start - timedelta(days=_WEEK), start)
    week_final = week[Outcome.SUCCESS] + week[Outcome.FAILED]
    codes = sorted(
        (
            CodeCount(rc, count)
            for rc, count in reports.failure_codes(connection, start, end).items()
        ),
        key=lambda code: (-code.count, code.rc or ""),
    )
    products = sorted(
        (
            ProductFailures(volume.product_code, volume.transactions, volume.failures)
            for volume in reports.product_volumes(
                connection, start, end, min_transactions=DIGEST_MIN_PRODUCT_VOLUME
            )
        ),
        key=lambda product: (-product.rate, -product.failures, product.product_code),
    )
    from_day, _oldest = reports.pending_count(connection, start, end)
    pending_now, oldest = reports.pending_count(connection)
    balance = reports.latest_balance(connection)
    incident_day = incidents.incident_day(connection, start, end)
    hourly, hourly_failed = reports.activity_by_bucket(
        connection, reports.TimeBuckets(start, end, 24)
    )
    return DigestDetails(
        day=day,
        gathered_at=now,
        outcomes={outcome.value: count for outcome, count in outcomes.items()},
        week_success_rate=week[Outcome.SUCCESS] / week_final if week_final else None,
        failure_codes=tuple(codes[:DIGEST_CODES]),
        other_failures=sum(code.count for code in codes[DIGEST_CODES:]),
        worst_products=tuple(products[:DIGEST_PRODUCTS]),
        min_product_volume=DIGEST_MIN_PRODUCT_VOLUME,
        pending_from_day=from_day,
        pending_now=pending_now,
        oldest_pending_at=oldest,
        spent=reports.sales_total(connection, start, end),
        balance=balance[0] if balance else None,
        balance_at=balance[1] if balance else None,
        incidents_opened=incident_day.opened,
        incidents_resolved=incident_day.resolved,
        acknowledged=len(incident_day.ack_seconds),
        median_ack_seconds=median(incident_day.ack_seconds) if incident_day.ack_seconds else None,
        hourly_transactions=tuple(hourly),
        hourly_failures=tuple(hourly_failed),
    )
