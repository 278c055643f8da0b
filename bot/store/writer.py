"""How an observation of a transaction gets stored, from the route to the commit.

1. `bot.intake` validates and authenticates a request, builds an `Observation` and calls
   `Writer.enqueue`, which returns once the observation is on disk (the route then answers
   200), or raises StoreUnavailable (503, try again) or StoreRejected (400).
2. A writer thread takes whatever is queued, up to MAX_BATCH, as one batch: group commit,
   one database transaction and one fsync for a burst of callbacks instead of one each.
3. `write_batch` locks the batch's transactions, merges each observation into its state
   (`bot.store.transactions.merge`: state only moves forward) and writes the new states and
   the history with one multi-row statement per table (`_Statements`).
4. Each waiting request gets its `Recorded` back, with one wake-up per event loop.

SQLite has one writer at a time anyway: one thread. On Postgres a batch spends most of its
time waiting on round trips and the commit, so two threads overlap them; their batches
lock rows in the same order and retry on a race.

A stalled database (a lock held by a migration, a connection that stopped answering) must
not hold callbacks past the platform router's timeout: every enqueue has a deadline, the
queue has a bound, and both answer 503 while the writer waits for the database to return.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, bindparam, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from bot.store.schema import UTCDateTime, transaction_events, transactions
from bot.store.transactions import (
    STATE_FIELDS,
    Observation,
    Recorded,
    TransactionState,
    merge,
)

log = logging.getLogger(__name__)

MAX_BATCH = 256
# How long a request waits for its write before it answers 503 (well inside the 30 s a
# platform router gives a request), and how many writes may wait at once before new ones
# are refused at once rather than held in memory.
WRITE_DEADLINE = 8.0
MAX_QUEUED = 5000
# Postgres: writer threads whose batches overlap their round trips (see the module doc).
POSTGRES_THREADS = 2
_STOP = object()


class StoreUnavailable(Exception):
    """The write did not happen: the database is down, stalled or overloaded. Try again."""


class StoreRejected(Exception):
    """The database refused the observation's data itself: the same write fails again."""


@dataclass
class _Waiting:
    """A queued observation and the request waiting for it."""

    observation: Observation
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Recorded]


class Writer:
    """Group commit: serialises writes from many requests into batched transactions."""

    def __init__(
        self,
        engine: Engine,
        *,
        deadline: float = WRITE_DEADLINE,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self.engine = engine
        self.threads = 1 if engine.dialect.name == "sqlite" else POSTGRES_THREADS
        self.deadline = deadline
        self.max_queued = max_queued
        self._queue: queue.SimpleQueue[_Waiting | object] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        # writes waiting for the database, queued or in a batch being written
        self._waiting = 0
        self._count_lock = threading.Lock()

    def start(self) -> None:
        """Start the writer threads (idempotent)."""
        with self._lock:
            if not self._workers:
                self._workers = [
                    threading.Thread(target=self._run, name=f"store-writer-{n}", daemon=True)
                    for n in range(self.threads)
                ]
                for worker in self._workers:
                    worker.start()

    def stop(self, timeout: float = 10) -> None:
        """Finish what is queued, then stop."""
        with self._lock:
            workers, self._workers = self._workers, []
            for _ in workers:
                self._queue.put(_STOP)
            deadline = time.monotonic() + timeout
            for worker in workers:
                worker.join(max(deadline - time.monotonic(), 0))

    async def enqueue(self, observation: Observation) -> Recorded:
        """Store one observation; returns once it is committed.

        Until `start` (a one-off command, which has no burst to batch), the observation is
        written on its own, in a worker thread, with the same deadline and answers.
        """
        if not self._workers:
            return await self._write_alone(observation)
        with self._count_lock:
            if self._waiting >= self.max_queued:
                raise StoreUnavailable("too many writes are waiting for the database")
            self._waiting += 1
        try:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[Recorded] = loop.create_future()
            self._queue.put(_Waiting(observation, loop, future))
            async with asyncio.timeout(self.deadline):
                return await future
        except TimeoutError:
            raise StoreUnavailable("the database did not answer in time") from None
        finally:
            with self._count_lock:
                self._waiting -= 1

    async def _write_alone(self, observation: Observation) -> Recorded:
        try:
            (recorded,) = await asyncio.wait_for(
                asyncio.to_thread(write_batch, self.engine, [observation]), self.deadline
            )
        except TimeoutError:
            raise StoreUnavailable("the database did not answer in time") from None
        except OperationalError as exc:
            log.error("database unavailable, a write refused: %s", first_line(exc))
            raise StoreUnavailable("the database is unavailable") from None
        except Exception as exc:
            log.exception("the database refused an observation of %s", observation.ref_id)
            raise _refusal(exc) from None
        return recorded

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            self._write([waiting for waiting in batch if isinstance(waiting, _Waiting)])
            if stop:
                return

    def _write(self, batch: list[_Waiting]) -> None:
        # Requests that gave up waiting have answered 503: their senders will send again.
        batch = [waiting for waiting in batch if not waiting.future.done()]
        if not batch:
            return
        try:
            results = write_batch(self.engine, [waiting.observation for waiting in batch])
        except OperationalError as exc:
            # The database is down (or timed out): every write in the batch fails alike,
            # fast, so callers can answer 503 and IAK retries later.
            log.error("database unavailable, %d write(s) refused: %s", len(batch), first_line(exc))
            _settle(
                [(waiting, StoreUnavailable("the database is unavailable")) for waiting in batch]
            )
            return
        except Exception as exc:
            if len(batch) > 1:
                # One bad observation must not fail the others: write them one by one.
                for waiting in batch:
                    self._write([waiting])
                return
            log.exception("the database refused an observation of %s", batch[0].observation.ref_id)
            _settle([(batch[0], _refusal(exc))])
            return
        _settle(list(zip(batch, results, strict=True)))


def _refusal(exc: Exception) -> Exception:
    """What to tell the caller about a write that failed alone."""
    if isinstance(exc, DBAPIError | ValueError):
        return StoreRejected(f"the database refused this data: {first_line(exc)[:200]}")
    return StoreUnavailable("the database did not accept the write")


def _settle(outcomes: list[tuple[_Waiting, Recorded | Exception]]) -> None:
    """Hand results back to each waiting event loop with one wake-up per loop, not per item."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Waiting, Recorded | Exception]]] = {}
    for waiting, outcome in outcomes:
        by_loop.setdefault(waiting.loop, []).append((waiting, outcome))
    for loop, items in by_loop.items():
        # RuntimeError: that loop has closed, so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, items)


def _resolve(items: list[tuple[_Waiting, Recorded | Exception]]) -> None:
    for waiting, outcome in items:
        if waiting.future.done():  # the caller went away (cancelled, or past its deadline)
            continue
        if isinstance(outcome, Exception):
            waiting.future.set_exception(outcome)
        else:
            waiting.future.set_result(outcome)


def first_line(exc: BaseException) -> str:
    """An exception's first line, for a log line or an answer."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


# --- One batch, one database transaction ----------------------------------------------------


def write_batch(engine: Engine, observations: Sequence[Observation]) -> list[Recorded]:
    """Apply observations in order, in one database transaction; retried on a race."""
    for attempt in range(3):
        try:
            with engine.connect().execution_options(write=True) as connection, connection.begin():
                return _apply(connection, observations)
        except IntegrityError:
            # Another writer inserted the same new ref_id or observation between our read
            # and our write; the retry sees its row (locked) and merges onto it.
            if attempt == 2:
                raise
        except OperationalError as exc:
            # Postgres may pick this transaction as a deadlock or serialization victim when
            # writers race on new rows; that is a retry, not an outage.
            if getattr(exc.orig, "sqlstate", None) not in ("40P01", "40001") or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _apply(connection: Connection, observations: Sequence[Observation]) -> list[Recorded]:
    """Lock the batch's transactions, merge each observation in order, write what changed."""
    ref_ids = sorted({observation.ref_id for observation in observations})
    rows = connection.execute(_LOCK_STATES, {"ref_ids": ref_ids})
    states: dict[str, TransactionState] = {
        row.ref_id: TransactionState.from_row(row) for row in rows
    }
    stored = set(states)
    encoded = [observation.encoded() for observation in observations]
    prints = [fingerprint for _, fingerprint in encoded]
    seen = set(connection.execute(_SEEN_PRINTS, {"prints": prints}).scalars())
    results: list[Recorded] = []
    events: list[_Event] = []
    dirty: set[str] = set()
    for observation, (payload, fingerprint) in zip(observations, encoded, strict=True):
        before = states.get(observation.ref_id)
        if fingerprint in seen:
            results.append(Recorded(before, before, duplicate=True))
            continue
        after = merge(before, observation)
        results.append(Recorded(after, before, duplicate=False))
        if after is None:
            continue
        seen.add(fingerprint)
        states[observation.ref_id] = after
        if after != before:
            dirty.add(observation.ref_id)
        events.append((observation, fingerprint, payload, after != before))

    statements = _Statements.of(connection.dialect)
    new = [states[ref_id] for ref_id in sorted(dirty - stored)]
    if new:
        statements.run(connection, "insert", statements.state_rows(new))
    changed = [states[ref_id] for ref_id in sorted(dirty & stored)]
    if changed:
        statements.run(connection, "update", statements.state_rows(changed))
    if events:
        # in fingerprint order, so racing writers meet their duplicates in the same order
        events.sort(key=lambda event: event[1])
        statements.run(connection, "event", statements.event_rows(events))
    return results


# An observation to append to the history: (observation, fingerprint, payload JSON, applied).
_Event = tuple[Observation, str, str, bool]

# The batch's reads, built once (its ids and fingerprints bind as lists). Lock in ref_id
# order so two writers can never deadlock on the same rows.
_LOCK_STATES = (
    select(transactions)
    .where(transactions.c.ref_id.in_(bindparam("ref_ids", expanding=True)))
    .order_by(transactions.c.ref_id)
    .with_for_update()
)
_SEEN_PRINTS = select(transaction_events.c.fingerprint).where(
    transaction_events.c.fingerprint.in_(bindparam("prints", expanding=True))
)

_EVENT_COLUMNS = (
    "ref_id",
    "fingerprint",
    "source",
    "observed_at",
    "outcome",
    "status",
    "rc",
    "balance",
    "applied",
    "data",
)
# Positions in a state row whose values need converting: times, and enums to text.
_TIME_AT = [
    n for n, name in enumerate(STATE_FIELDS) if isinstance(transactions.c[name].type, UTCDateTime)
]
_ENUM_AT = [STATE_FIELDS.index("outcome"), STATE_FIELDS.index("source")]


class _Statements:
    """The batch's writes in the driver's own SQL: one multi-row statement per table and
    batch (in chunks), with values converted as the columns' SQLAlchemy types would.

    SQLAlchemy binds every value of every row through Python, and an executemany runs one
    statement per row; for the callback route's bursts, that cost more than the rest of the
    write. Reads keep using SQLAlchemy; tests read back what this writes through it.
    """

    # Rows per statement: far below SQLite's 32,766 and Postgres's 65,535 parameters.
    CHUNK = 256

    def __init__(self, dialect: Dialect) -> None:
        self.sqlite = dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"
        self.quote = dialect.identifier_preparer.quote
        self._sql: dict[tuple[str, int], str] = {}

    @classmethod
    def of(cls, dialect: Dialect) -> _Statements:
        """The statements of one dialect, built once."""
        statements = _BY_DIALECT.get(dialect.name)
        if statements is None:
            statements = _BY_DIALECT[dialect.name] = cls(dialect)
        return statements

    def run(self, connection: Connection, kind: str, rows: list[tuple[Any, ...]]) -> None:
        """Insert new states ("insert"), write changed ones ("update"), or append history
        ("event")."""
        for start in range(0, len(rows), self.CHUNK):
            chunk = rows[start : start + self.CHUNK]
            sql = self._sql.get((kind, len(chunk)))
            if sql is None:
                sql = self._sql[kind, len(chunk)] = self._build(kind, len(chunk))
            connection.exec_driver_sql(sql, tuple(itertools.chain.from_iterable(chunk)))

    def _build(self, kind: str, count: int) -> str:
        quote, mark = self.quote, self.mark
        columns: Sequence[str]
        if kind == "event":
            table, columns = transaction_events.name, _EVENT_COLUMNS
        else:
            table, columns = transactions.name, STATE_FIELDS
        marks = [
            f"CAST({mark} AS JSON)" if name == "data" and not self.sqlite else mark
            for name in columns
        ]
        row = f"({', '.join(marks)})"
        # identifiers come from our own schema; every value is a bound parameter
        sql = (
            f"INSERT INTO {quote(table)} ({', '.join(quote(name) for name in columns)}) "  # noqa: S608
            f"VALUES {', '.join([row] * count)}"
        )
        if kind == "update":
            # The rows exist and this transaction has locked them (FOR UPDATE on Postgres,
            # BEGIN IMMEDIATE on SQLite), so the upsert always takes its DO UPDATE branch:
            # a whole batch of changed states in one statement.
            sql += f" ON CONFLICT ({quote('ref_id')}) DO UPDATE SET " + ", ".join(
                f"{quote(name)} = excluded.{quote(name)}"
                for name in STATE_FIELDS
                if name != "ref_id"
            )
        return sql

    def time(self, value: datetime | None) -> datetime | str | None:
        """What UTCDateTime binds: naive UTC text on SQLite, an aware datetime elsewhere."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        if self.sqlite:
            return _sqlite_time(value)
        return value.astimezone(UTC)

    def state_rows(self, states: Sequence[TransactionState]) -> list[tuple[Any, ...]]:
        """Bind values of transaction states, in STATE_FIELDS order."""
        rows = []
        for state in states:
            values = [getattr(state, name) for name in STATE_FIELDS]
            for at in _TIME_AT:
                values[at] = self.time(values[at])
            for at in _ENUM_AT:
                values[at] = values[at].value
            rows.append(tuple(values))
        return rows

    def event_rows(self, events: Sequence[_Event]) -> list[tuple[Any, ...]]:
        """Bind values of history rows, in _EVENT_COLUMNS order."""
        return [
            (
                observation.data.ref_id,
                fingerprint,
                observation.source.value,
                self.time(observation.observed_at),
                observation.outcome.value,
                observation.data.status,
                observation.data.rc,
                observation.data.balance,
                applied,
                payload,
            )
            for observation, fingerprint, payload, applied in events
        ]


_BY_DIALECT: dict[str, _Statements] = {}


@functools.lru_cache(maxsize=4096)
def _sqlite_time(value: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME text for an aware time, so comparisons hold. Cached: a
    new row's first-seen, changed and final times and its event's time are the same."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
