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
    Member,
    ProductFailures,
    ProductOutageDetails,
    RefusedCallbacks,
    SerialDetails,
    SpikeDetails,
)
from bot.alerts.repository import IncidentRepository, open_incident_exists
from bot.clock import wib_day
from bot.monitor.decisions import (
    CALLBACK_WINDOW,
    LISTED,
    STOP_CHECKING_AFTER,
    CallbackActivity,
    ConflictSnapshot,
    DepositReading,
    MonitorConfig,
    PendingSnapshot,
    ProductActivity,
    RcActivity,
    SerialSnapshot,
    sparkline_counts,
    spend_per_hour,
)
from bot.outcomes import NOT_FINAL, Line, Outcome, Refusal, Source, split_code_key
from bot.store import reports
from bot.store.reports import (
    balance_readings,
    expected_failures,
    failures_by_rc,
    latest_balance,
)
from bot.store.schema import UTCDateTime, callback_refusals, transaction_events, transactions
from bot.store.transactions import PendingTransaction

_NOT_FINAL = [outcome.value for outcome in NOT_FINAL]
_FINAL = [outcome.value for outcome in Outcome if outcome.is_final]
MAX_JOIN_PER_TICK = 5000
# final answers listed for one conflicting transaction
MAX_CLAIMS = 10
MAX_TOLD_PER_TICK = 5000
# serial numbers newly found delivered twice, per tick (the rest wait for the next ticks)
MAX_SERIALS_PER_TICK = 50
# successes looked at for a repeated serial number per tick (catching up after a start
# takes a few ticks more, never a long one)
SERIAL_SCAN_PER_TICK = 2000
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
    # Failures a known window expects (IAK's scheduled cut-off) open no spike, and do not
    # raise the baseline that later failures are judged against either.
    for expected in expected_failures(
        connection, window_start - timedelta(hours=24), now + timedelta(seconds=1)
    ):
        counts = window if expected.started_at >= window_start else baseline
        counts[expected.rc] = counts.get(expected.rc, 0) - 1
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
    details = spike.details
    if isinstance(details, ProductOutageDetails):
        details = details.spike
    assert isinstance(details, SpikeDetails)
    return spike.opened_at - timedelta(seconds=details.window_seconds)


def product_activity(
    connection: Connection,
    now: datetime,
    config: MonitorConfig,
    rcs: frozenset[str],
    open_outages: dict[str, Incident],
    needs_detail: Callable[[str, int, int], bool],
) -> list[ProductActivity]:
    """Each product failing now with one of `rcs` (or with an open incident): its window
    count per rc and its baseline, as `rc_activity` reads them for one rc."""
    window_start = now - config.spike_window
    # Prepaid products only: postpaid codes with these numbers mean something else.
    coded = and_(
        t.outcome == Outcome.FAILED.value, t.rc.in_(sorted(rcs)), t.line == Line.PREPAID.value
    )
    window: dict[str, dict[str, int]] = {}
    for code, rc, count in connection.execute(
        select(t.product_code, t.rc, func.count())
        .where(coded, t.started_at >= window_start, t.started_at <= now + timedelta(seconds=1))
        .group_by(t.product_code, t.rc)
    ).all():
        window.setdefault(str(code or "?"), {})[str(rc)] = int(count)
    baseline = {
        str(code or "?"): int(count)
        for code, count in connection.execute(
            select(t.product_code, func.count())
            .where(
                coded,
                t.started_at >= window_start - timedelta(hours=24),
                t.started_at < window_start,
            )
            .group_by(t.product_code)
        ).all()
    }
    activities = []
    for code in sorted(set(window) | set(open_outages)):
        per_rc = window.get(code, {})
        count, base = sum(per_rc.values()), baseline.get(code, 0)
        incident = open_outages.get(code)
        if incident is None and not needs_detail(code, count, base):
            continue
        product = t.product_code.is_(None) if code == "?" else t.product_code == code
        failed = and_(coded, product)
        hour = connection.execute(
            select(t.started_at).where(failed, t.started_at >= now - timedelta(hours=1))
        ).scalars()
        total = None
        if incident is not None:
            total = int(
                connection.execute(
                    select(func.count()).where(failed, t.started_at >= _started(incident))
                ).scalar_one()
            )
        rc = max(per_rc, key=lambda r: (per_rc[r], r)) if per_rc else _rc_of(incident, rcs)
        activities.append(
            ProductActivity(
                product_code=code,
                rcs=per_rc,
                failures=RcActivity(
                    rc=rc,
                    window_count=count,
                    baseline_count=base,
                    sparkline=sparkline_counts(list(hour), now),
                    total_since_open=total,
                ),
            )
        )
    return activities


def _rc_of(incident: Incident | None, rcs: frozenset[str]) -> str:
    if incident is not None and isinstance(incident.details, ProductOutageDetails):
        return incident.details.spike.rc
    return min(rcs)


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


def serial_scan_end(connection: Connection, since: datetime, limit: int) -> datetime | None:
    """When the `limit`-th success with a serial number since `since` succeeded: where one
    tick's look ends; None when fewer succeeded (the look reaches the present)."""
    return connection.execute(
        select(t.final_at)
        .where(t.serial.is_not(None), t.final_at >= since)
        .order_by(t.final_at)
        .offset(limit - 1)
        .limit(1)
    ).scalar_one_or_none()


def repeated_serials(
    connection: Connection, since: datetime, until: datetime | None, limit: int
) -> list[str]:
    """Serial numbers that a success in [since, until] delivered and another success
    (another ref_id) delivered too. Both sides stay on the partial serial indexes: the
    recent successes by time, then each one's serial looked up."""
    recent_conditions = [t.serial.is_not(None), t.final_at >= since]
    if until is not None:
        recent_conditions.append(t.final_at <= until)
    # Ordered by time so that SQLite walks the recent successes, not every serial number.
    recent = (
        select(t.ref_id, t.serial)
        .where(*recent_conditions)
        .order_by(t.final_at)
        .limit(SERIAL_SCAN_PER_TICK * 2)
        .subquery()
    )
    other = transactions.alias("other")
    rows = connection.execute(
        select(recent.c.serial)
        .where(
            select(other.c.ref_id)
            .where(other.c.serial == recent.c.serial, other.c.ref_id != recent.c.ref_id)
            .exists()
        )
        .distinct()
        .limit(limit)
    ).scalars()
    return list(rows)


def serial_snapshots(
    connection: Connection,
    since: datetime,
    until: datetime | None,
    open_incidents: dict[str, Incident],
) -> list[SerialSnapshot]:
    """Every serial number delivered more than once by a success in [since, until], and
    every one with an open incident: the successes that delivered it (the first few, oldest
    first) and how many."""
    by_serial: dict[str, Incident | None] = {}
    for open_incident in open_incidents.values():
        assert isinstance(open_incident.details, SerialDetails)
        by_serial[open_incident.details.serial] = open_incident
    for serial in repeated_serials(connection, since, until, MAX_SERIALS_PER_TICK):
        by_serial.setdefault(serial, None)
    snapshots = []
    for serial, incident in by_serial.items():
        # One statement: on Postgres each statement sees what has committed by then, and a
        # count read apart from the list could miss a delivery the list already shows.
        rows = connection.execute(
            select(
                t.ref_id,
                t.product_code,
                t.customer_id,
                t.started_at,
                func.count().over().label("total"),
                func.max(t.final_at, type_=UTCDateTime()).over().label("latest"),
            )
            .where(t.serial == serial)
            .order_by(t.started_at, t.ref_id)
            .limit(LISTED)
        ).all()
        total = rows[0].total if rows else 0
        latest: datetime | None = rows[0].latest if rows else None
        if latest is None:
            if incident is None:
                continue  # no delivery left with it, and no incident to update
            assert isinstance(incident.details, SerialDetails)
            latest = incident.details.latest_at
        snapshots.append(
            SerialSnapshot(
                serial=serial,
                total=int(total),
                members=tuple(
                    Member(row.ref_id, row.product_code, row.customer_id, row.started_at)
                    for row in rows
                ),
                latest_at=latest,
                incident=incident,
            )
        )
    return snapshots


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
    # The answers that made a prepaid top-up final, from anywhere but a callback (IAK never
    # calls back postpaid bills). They matter only while no callback came at all.
    finals_without = 0
    if not callbacks:
        prepaid = (
            select(t.ref_id).where(t.ref_id == e.ref_id, t.line == Line.PREPAID.value).exists()
        )
        finals_without = connection.execute(
            select(func.count()).where(
                e.observed_at >= since,
                e.source != Source.CALLBACK.value,
                e.applied.is_(True),
                e.outcome.in_(_FINAL),
                prepaid,
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
