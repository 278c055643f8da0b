"""Re-checks at IAK: which pending (and conflicting) transactions are due one, and when the
next is due. The monitor asks IAK beside its ticks; these are the statements and the
back-off it follows."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, or_, select

from bot.incidents.config import STOP_CHECKING_AFTER, MonitorConfig
from bot.incidents.model import IncidentKind
from bot.incidents.repository import open_incident_exists
from bot.outcomes import NOT_FINAL_VALUES, Line
from bot.shapes import DbRow
from bot.store.schema import transactions

t = transactions.c


class Recheck(NamedTuple):
    """A pending transaction to ask IAK about again, through its line's check-status."""

    ref_id: str
    started_at: datetime
    checks: int  # asked so far
    line: Line = Line.PREPAID


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


def due_rechecks(
    connection: Connection, now: datetime, config: MonitorConfig, limit: int
) -> list[Recheck]:
    """Pending transactions due a re-check at IAK, most overdue first. A transaction is
    first due one monitor interval after it started, and never once it started 24 hours
    ago (an imported old one is not asked about at all)."""
    never_checked = connection.execute(
        select(t.ref_id, t.started_at, t.checks, t.line, t.started_at.label("due"))
        .where(
            t.outcome.in_(NOT_FINAL_VALUES),
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
        .where(t.outcome.in_(NOT_FINAL_VALUES), t.next_check_at <= now)
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


def _recheck(row: DbRow) -> Recheck:
    return Recheck(row.ref_id, row.started_at, int(row.checks), Line(row.line))


def waiting_members(connection: Connection, incident_id: int, limit: int) -> list[Recheck]:
    """The pending incident's transactions still waiting, oldest first."""
    rows = connection.execute(
        select(t.ref_id, t.started_at, t.checks, t.line)
        .where(
            t.incident_id == incident_id,
            t.outcome.in_(NOT_FINAL_VALUES),
            t.checks_stopped_at.is_(None),
        )
        .order_by(t.started_at)
        .limit(limit)
    ).all()
    return [_recheck(row) for row in rows]
