"""Reads of transactions and their history, and the monitor's bookkeeping columns
(which incident a transaction is in, whether its outcome was told, its re-checks). How a
transaction's state moves is bot.store.states'; those writes are bot.store.writer's."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Engine, func, or_, select, union, update

from bot.outcomes import Line, Outcome, Source
from bot.shapes import DbRow, Json
from bot.store.schema import transaction_events, transaction_keys, transactions
from bot.store.search_keys import SearchKeys, after_prefix
from bot.store.states import TransactionState

# `/iak find` lists this many, newest first, and counts the matches up to MAX_COUNTED.
MAX_FOUND = 20
MAX_COUNTED = 1000


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


@dataclass(frozen=True)
class Found:
    """The stored transactions a search matched: the newest first, at most a page of them,
    and how many matched in all (counted up to `counted_up_to`; more reads as "more than")."""

    transactions: tuple[TransactionState, ...]
    total: int
    counted_up_to: int = MAX_COUNTED

    @property
    def more_than_counted(self) -> bool:
        """Whether more matched than were counted."""
        return self.total > self.counted_up_to


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

    def find(self, typed: str, limit: int = MAX_FOUND, count_up_to: int = MAX_COUNTED) -> Found:
        """The transactions whose ref_id, tr_id, customer number (any spelling) or serial
        (whole, or its token's last digits) is what was typed, newest first."""
        search = SearchKeys.of(typed)
        key = transaction_keys.c.key
        matches: list[ColumnElement[bool]] = [key.in_(search.exact)]
        if search.serial_prefix is not None:
            prefix = search.serial_prefix
            matches.append((key >= prefix) & (key < after_prefix(prefix)))
        matched = union(
            select(transaction_keys.c.ref_id).where(or_(*matches)),
            select(transactions.c.ref_id).where(transactions.c.ref_id == search.ref_id),
        )
        newest = (
            select(transactions)
            .where(transactions.c.ref_id.in_(matched))
            .order_by(transactions.c.started_at.desc(), transactions.c.ref_id.desc())
            .limit(limit)
        )
        counted = select(func.count()).select_from(matched.limit(count_up_to + 1).subquery())
        with self.engine.connect() as connection:
            rows = connection.execute(newest).all()
            total = connection.execute(counted).scalar_one() if len(rows) == limit else len(rows)
        return Found(tuple(TransactionState.from_row(row) for row in rows), total, count_up_to)

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


# --- The monitor's bookkeeping, in the caller's transaction (its tick) ---------------------

# ref_ids per UPDATE: well under every database's limit on bound parameters
_CHUNK = 500


def join_incident(connection: Connection, ref_ids: Sequence[str], incident_id: int) -> None:
    """These transactions are in the pending incident `incident_id` now."""
    _set(connection, ref_ids, {"incident_id": incident_id})


def mark_announced(connection: Connection, ref_ids: Sequence[str]) -> None:
    """These transactions' outcomes were told in their incident's thread."""
    _set(connection, ref_ids, {"announced": True})


def record_recheck(
    connection: Connection, ref_id: str, checks: int, next_at: datetime | None, now: datetime
) -> None:
    """After the monitor re-checked a transaction at IAK: how many times it has, and when
    the next one is due, or (`next_at` None) that it gave up at `now`."""
    values: Json = {"checks": checks, "next_check_at": next_at}
    if next_at is None:
        values["checks_stopped_at"] = now
    _set(connection, (ref_id,), values)


def _set(connection: Connection, ref_ids: Sequence[str], values: Json) -> None:
    for chunk in _chunks(ref_ids):
        connection.execute(
            update(transactions).where(transactions.c.ref_id.in_(chunk)).values(values)
        )


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
