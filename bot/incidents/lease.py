"""The monitor's lease: which process ticks and posts, as one row of `leases`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update
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


class LeaseStatements(Statements):
    """Take, renew, release and read the monitor's lease."""

    def renew_lease(
        self, connection: Connection, holder: str, now: datetime, expires_at: datetime
    ) -> bool:
        """Take the lease if it is free or expired, or renew it if `holder` has it."""
        taken = connection.execute(
            update(leases)
            .where(
                leases.c.name == MONITOR_LEASE,
                (leases.c.holder == holder) | (leases.c.expires_at <= now),
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
                .values(expires_at=now)
            )

    def leader(self) -> LeaderInfo | None:
        """The lease as stored."""
        with self.engine.connect() as connection:
            row = connection.execute(select(leases).where(leases.c.name == MONITOR_LEASE)).first()
        if row is None:
            return None
        return LeaderInfo(row.holder, row.expires_at, row.last_tick_at)
