"""The monitor's lease: which process ticks and posts, as one row of `leases`.

When a lease runs out is judged by the database's clock, never a process's own: a process
whose clock is behind would otherwise write a lease that others see as run out already
(and two would lead), and one whose clock is ahead a lease that outlives it by as much.
A process tells for itself how long it still holds the lease by how long its own clock
has run since its tick began (before the renewal): differences, which no offset changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from bot.incidents.statements import Statements
from bot.store.schema import leases

MONITOR_LEASE = "monitor"


@dataclass(frozen=True)
class LeaderInfo:
    """Who runs the monitor, and when it last ticked."""

    holder: str
    expires_at: datetime
    last_tick_at: datetime | None
    # the lease has not run out, by the database's clock
    live: bool = True


class LeaseStatements(Statements):
    """Take, renew, release and read the monitor's lease."""

    def renew_lease(
        self, connection: Connection, holder: str, now: datetime, ttl: timedelta
    ) -> bool:
        """Take the lease if it is free or run out, or renew it if `holder` has it: for
        `ttl` from now by the database's clock. (`now`, the process's own time, is only
        recorded as when it ticked.)"""
        dialect = connection.dialect.name
        expires_at = database_now(dialect, ttl)
        taken = connection.execute(
            update(leases)
            .where(
                leases.c.name == MONITOR_LEASE,
                (leases.c.holder == holder) | (leases.c.expires_at <= database_now(dialect)),
            )
            .values(
                holder=holder,
                expires_at=expires_at,
                last_tick_at=now,
                acquired_at=func.coalesce(
                    # keep acquired_at while the same holder renews
                    select(leases.c.acquired_at)
                    .where(leases.c.name == MONITOR_LEASE, leases.c.holder == holder)
                    .scalar_subquery(),
                    now,
                ),
            )
        ).rowcount
        if taken:
            return True
        exists = connection.execute(
            select(leases.c.name).where(leases.c.name == MONITOR_LEASE)
        ).first()
        if exists:
            return False
        try:
            with connection.begin_nested():
                connection.execute(
                    insert(leases).values(
                        name=MONITOR_LEASE,
                        holder=holder,
                        expires_at=expires_at,
                        acquired_at=now,
                        last_tick_at=now,
                    )
                )
        except IntegrityError:
            return False  # another process created it first
        return True

    def release_lease(self, holder: str, now: datetime) -> None:
        """Give the lease up (on shutdown) so another process takes over at its next tick."""
        with self.writing() as connection:
            connection.execute(
                update(leases)
                .where(leases.c.name == MONITOR_LEASE, leases.c.holder == holder)
                .values(expires_at=database_now(connection.dialect.name))
            )

    def leader(self) -> LeaderInfo | None:
        """The lease as stored, and whether it is still live by the database's clock."""
        with self.engine.connect() as connection:
            live = (leases.c.expires_at > database_now(connection.dialect.name)).label("live")
            row = connection.execute(
                select(leases, live).where(leases.c.name == MONITOR_LEASE)
            ).first()
        if row is None:
            return None
        return LeaderInfo(row.holder, row.expires_at, row.last_tick_at, bool(row.live))


def database_now(dialect: str, later: timedelta = timedelta()) -> ColumnElement[Any]:
    """The database's clock (`later` ahead), as `leases.expires_at` stores times: on
    Postgres now(), the transaction's start; on SQLite UTC text to the millisecond, padded
    to the microseconds UTCDateTime writes, so the two compare as text."""
    seconds = later.total_seconds()
    if dialect == "sqlite":
        modifier = f"{seconds:+.3f} seconds"
        return func.strftime("%Y-%m-%d %H:%M:%f", "now", modifier, type_=String()).concat("000")
    if seconds:
        return func.now() + literal_column(f"interval '{seconds:.6f} seconds'")
    return func.now()
