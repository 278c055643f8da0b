"""Reads of transactions and their history. How a transaction's state moves is
bot.store.states'; the writes are bot.store.writer's."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from bot.outcomes import Line, Outcome, Source
from bot.shapes import DbRow
from bot.store.schema import transaction_events, transactions
from bot.store.states import TransactionState


@dataclass(frozen=True)
class PendingTransaction:
    """A transaction whose outcome is not final yet (pending, or unknown), as the pending
    list, the monitor and its incidents see it."""

    ref_id: str
    outcome: Outcome
    rc: str | None
    product_code: str | None
    customer_id: str | None
    # when it happened (its created_at when known, else when the bot first heard of it)
    started_at: datetime
    # the monitor gave up asking IAK about it (pending for 24 h)
    checks_stopped_at: datetime | None = None
    # a prepaid top-up or a postpaid bill (its rc is from that line's table)
    line: Line = Line.PREPAID


@dataclass(frozen=True)
class Event:
    """One stored observation, for a transaction's history."""

    source: Source
    at: datetime
    outcome: Outcome
    rc: str | None
    applied: bool


@dataclass(frozen=True)
class History:
    """What the bot heard of one transaction: its first observation and the latest ones,
    oldest first, and the backend's own time for it when it sent one."""

    events: tuple[Event, ...]
    created_at: datetime | None = None


class TransactionStore:
    """Reads of transactions and their history (synchronous; the async side runs them in
    threads). Writes go through bot.store.writer."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, ref_id: str) -> TransactionState | None:
        """The current state of one transaction."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(transactions).where(transactions.c.ref_id == ref_id)
            ).first()
        return TransactionState.from_row(row) if row else None

    def history(self, ref_id: str, limit: int = 20) -> History:
        """The transaction's first observation and its most recent ones, oldest first."""
        by_id = transaction_events.c.id
        query = select(transaction_events).where(transaction_events.c.ref_id == ref_id)
        with self.engine.connect() as connection:
            first = connection.execute(query.order_by(by_id).limit(1)).all()
            recent = connection.execute(query.order_by(by_id.desc()).limit(limit - 1)).all()
            created_at = connection.execute(
                select(transactions.c.created_at).where(transactions.c.ref_id == ref_id)
            ).scalar()
        rows = {row.id: row for row in [*first, *recent]}
        return History(tuple(_event(rows[key]) for key in sorted(rows)), created_at)

    def lines_of(self, ref_ids: Collection[str]) -> dict[str, Line]:
        """Which of `ref_ids` the store holds, each with its line (one indexed read)."""
        if not ref_ids:
            return {}
        query = select(transactions.c.ref_id, transactions.c.line).where(
            transactions.c.ref_id.in_(list(ref_ids))
        )
        with self.engine.connect() as connection:
            return {row.ref_id: Line(row.line) for row in connection.execute(query)}

    def ping(self) -> None:
        """Raise unless the database answers."""
        with self.engine.connect() as connection:
            connection.execute(select(1))


def _event(row: DbRow) -> Event:
    return Event(
        source=Source(row.source),
        at=row.observed_at,
        outcome=Outcome(row.outcome),
        rc=row.rc,
        applied=bool(row.applied),
    )
