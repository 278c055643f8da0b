"""Transactions: their current state, how observations move it, and the SQL behind both."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, Row, bindparam, select
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.iak.models import Outcome, Source, TransactionData
from bot.store.schema import UTCDateTime, transaction_events, transactions

# How much a single observation can raise what we believe; see `supersedes`.
_RANK = {Outcome.UNKNOWN: 0, Outcome.PENDING: 1, Outcome.SUCCESS: 2, Outcome.FAILED: 2}


@dataclass(frozen=True)
class Observation:
    """One thing we heard about a transaction: a callback, an ingest, or a status check."""

    source: Source
    data: TransactionData
    outcome: Outcome
    observed_at: datetime
    created_at: datetime | None = None

    @property
    def ref_id(self) -> str:
        """The transaction's ref_id."""
        return self.data.ref_id

    def payload(self) -> dict[str, Any]:
        """What was observed, as stored in the history (never the sign)."""
        return self.data.model_dump(mode="json", exclude={"sign"})

    def encoded(self) -> tuple[str, str]:
        """The payload as stored (canonical JSON) and the observation's fingerprint.

        Identical observations (a retried callback) share a fingerprint and are stored once.
        The fingerprint is sha256 of the canonical JSON of [source, payload, created_at]; it
        must never change, or retries that straddle a deploy would be stored twice. The
        list is spelled out around the payload's JSON so the payload is encoded only once.
        """
        payload = json.dumps(self.payload(), sort_keys=True, separators=(",", ":"), default=str)
        created = json.dumps(self.created_at.isoformat() if self.created_at else None)
        canonical = f"[{json.dumps(self.source.value)},{payload},{created}]"
        return payload, hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class TransactionState:
    """What we currently believe about one transaction."""

    ref_id: str
    outcome: Outcome
    status: int | None
    rc: str | None
    product_code: str | None
    customer_id: str | None
    price: int | None
    balance: int | None
    tr_id: str | None
    sn: str | None
    message: str | None
    source: Source
    created_at: datetime | None
    first_seen_at: datetime
    changed_at: datetime
    final_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> TransactionState:
        """Build from a `transactions` row."""
        values = {name: getattr(row, name) for name in _STATE_FIELDS}
        values["outcome"] = Outcome(values["outcome"])
        values["source"] = Source(values["source"])
        return cls(**values)


_STATE_FIELDS = tuple(field.name for field in fields(TransactionState))


@dataclass(frozen=True)
class PendingTransaction:
    """A transaction whose outcome is not final yet (pending, or unknown), as the pending
    list, the monitor and its incidents see it."""

    ref_id: str
    outcome: Outcome
    rc: str | None
    product_code: str | None
    customer_id: str | None
    first_seen_at: datetime
    # the monitor gave up asking IAK about it (pending for 24 h)
    checks_stopped_at: datetime | None = None


@dataclass(frozen=True)
class Event:
    """One stored observation, for a transaction's history."""

    source: Source
    at: datetime
    outcome: Outcome
    rc: str | None
    applied: bool


@dataclass(frozen=True)
class Recorded:
    """What recording an observation did."""

    state: TransactionState | None
    previous: TransactionState | None
    duplicate: bool

    @property
    def changed(self) -> bool:
        """Whether the transaction's state is different now."""
        return self.state != self.previous


def supersedes(current: TransactionState, observation: Observation) -> bool:
    """Whether an observation replaces the current state (state only moves forward).

    A final outcome is never replaced by pending or unknown, whatever order things arrive
    in. Only a live status check may correct one final outcome with the other: a callback
    could be a late retry of something older, but a check is IAK's answer right now.
    """
    new, old = observation.outcome, current.outcome
    if old.is_final:
        return new.is_final and new != old and observation.source is Source.STATUS_CHECK
    if _RANK[new] != _RANK[old]:
        return _RANK[new] > _RANK[old]
    # same rank, not final: a newer pending reason (39 → 201) is worth keeping
    return new is Outcome.PENDING and observation.data.rc not in (None, current.rc)


def merge(current: TransactionState | None, observation: Observation) -> TransactionState | None:
    """The state after an observation; None when it says nothing worth a transaction row."""
    data = observation.data
    at = observation.observed_at
    if current is None:
        if observation.outcome is Outcome.UNKNOWN and observation.source is Source.STATUS_CHECK:
            # a failed or refused check of a ref_id we never saw: nothing to store
            return None
        return TransactionState(
            ref_id=data.ref_id,
            outcome=observation.outcome,
            status=data.status,
            rc=data.rc,
            product_code=data.product_code,
            customer_id=data.customer_id,
            price=data.price,
            balance=data.balance,
            tr_id=data.tr_id,
            sn=data.sn,
            message=data.message,
            source=observation.source,
            created_at=observation.created_at,
            first_seen_at=at,
            changed_at=at,
            final_at=at if observation.outcome.is_final else None,
        )
    filled = replace(
        current,
        product_code=current.product_code or data.product_code,
        customer_id=current.customer_id or data.customer_id,
        price=current.price if current.price is not None else data.price,
        balance=current.balance if current.balance is not None else data.balance,
        tr_id=current.tr_id or data.tr_id,
        sn=current.sn or data.sn,
        created_at=current.created_at or observation.created_at,
    )
    if not supersedes(current, observation):
        return filled
    return replace(
        filled,
        outcome=observation.outcome,
        status=data.status if data.status is not None else current.status,
        rc=data.rc or current.rc,
        balance=data.balance if data.balance is not None else current.balance,
        sn=data.sn or current.sn,
        message=data.message or current.message,
        source=observation.source,
        changed_at=at,
        final_at=at if observation.outcome.is_final else None,
    )


class TransactionStore:
    """SQL for transactions (synchronous; the async side runs it in threads)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, observations: Sequence[Observation]) -> list[Recorded]:
        """Apply observations in order, in one database transaction; retried on a race."""
        for attempt in range(3):
            try:
                with (
                    self.engine.connect().execution_options(write=True) as connection,
                    connection.begin(),
                ):
                    return self._record(connection, observations)
            except IntegrityError:
                # Another writer inserted the same new ref_id or observation between our
                # read and our write; the retry sees its row (locked) and merges onto it.
                if attempt == 2:
                    raise
            except OperationalError as exc:
                # Postgres may pick this transaction as a deadlock or serialization victim
                # when writers race on new rows; that is a retry, not an outage.
                if getattr(exc.orig, "sqlstate", None) not in ("40P01", "40001") or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _record(
        self, connection: Connection, observations: Sequence[Observation]
    ) -> list[Recorded]:
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
        events: list[_EventWrite] = []
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

        writes = _Writes.of(connection)
        new = [states[ref_id] for ref_id in sorted(dirty - stored)]
        if new:
            writes.insert_transactions(connection, new)
        changed = [states[ref_id] for ref_id in sorted(dirty & stored)]
        if changed:
            writes.update_transactions(connection, changed)
        if events:
            # in fingerprint order, so racing writers meet their duplicates in the same order
            events.sort(key=lambda event: event[1])
            writes.insert_events(connection, events)
        return results

    def get(self, ref_id: str) -> TransactionState | None:
        """The current state of one transaction."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(transactions).where(transactions.c.ref_id == ref_id)
            ).first()
        return TransactionState.from_row(row) if row else None

    def history(self, ref_id: str, limit: int = 20) -> list[Event]:
        """The transaction's first observation and its most recent ones, oldest first."""
        by_id = transaction_events.c.id
        query = select(transaction_events).where(transaction_events.c.ref_id == ref_id)
        with self.engine.connect() as connection:
            first = connection.execute(query.order_by(by_id).limit(1)).all()
            recent = connection.execute(query.order_by(by_id.desc()).limit(limit - 1)).all()
        rows = {row.id: row for row in [*first, *recent]}
        return [_event(rows[key]) for key in sorted(rows)]

    def ping(self) -> None:
        """Raise unless the database answers."""
        with self.engine.connect() as connection:
            connection.execute(select(1))


# An observation to append to the history: (observation, fingerprint, payload JSON, applied).
_EventWrite = tuple[Observation, str, str, bool]

# The write path's reads, built once (the batch's ids and fingerprints bind as lists).
# Lock in ref_id order so two writers can never deadlock on the same rows.
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
# Positions in a state row whose values the write path converts: times, and enums to text.
_TIME_AT = [
    n for n, name in enumerate(_STATE_FIELDS) if isinstance(transactions.c[name].type, UTCDateTime)
]
_ENUM_AT = [_STATE_FIELDS.index("outcome"), _STATE_FIELDS.index("source")]


class _Writes:
    """The write path's statements in the driver's own SQL, one statement per table and
    batch, with values converted the way the columns' SQLAlchemy types would convert them.

    Every stored callback goes through here. SQLAlchemy's per-row bind processing cost
    more CPU than the rest of the write together, and an executemany runs one statement per
    row. So a batch's rows go to the driver as multi-row VALUES lists: a handful of
    statements per batch, whatever its size. Reads keep using SQLAlchemy; tests read back
    what this writes through it.
    """

    # Rows per statement: far below SQLite's 32,766 and Postgres's 65,535 parameters.
    CHUNK = 256

    def __init__(self, dialect: Dialect) -> None:
        self.sqlite = dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"
        self.quote = dialect.identifier_preparer.quote
        self._sql: dict[tuple[str, int], str] = {}

    @classmethod
    def of(cls, connection: Connection) -> _Writes:
        dialect = connection.dialect
        writes = _WRITES.get(dialect.name)
        if writes is None:
            writes = _WRITES[dialect.name] = cls(dialect)
        return writes

    def insert_transactions(
        self, connection: Connection, states: Sequence[TransactionState]
    ) -> None:
        """Insert new transactions (a racing writer's same new ref_id: IntegrityError)."""
        self._execute(connection, "insert", self._state_rows(states))

    def update_transactions(
        self, connection: Connection, states: Sequence[TransactionState]
    ) -> None:
        """Write the new state of transactions this database transaction has locked.

        Spelled as an upsert, so all of a batch's rows go in one statement: the rows exist
        and are locked (FOR UPDATE on Postgres, BEGIN IMMEDIATE on SQLite), so it always
        takes the DO UPDATE branch, and sets only the state's columns.
        """
        self._execute(connection, "update", self._state_rows(states))

    def insert_events(self, connection: Connection, events: Sequence[_EventWrite]) -> None:
        """Append observations to the history."""
        self._execute(connection, "event", self._event_rows(events))

    def _execute(self, connection: Connection, kind: str, rows: list[tuple[Any, ...]]) -> None:
        for start in range(0, len(rows), self.CHUNK):
            chunk = rows[start : start + self.CHUNK]
            sql = self._sql.get((kind, len(chunk)))
            if sql is None:
                sql = self._sql[kind, len(chunk)] = self._build(kind, len(chunk))
            connection.exec_driver_sql(sql, tuple(value for row in chunk for value in row))

    def _build(self, kind: str, count: int) -> str:
        quote, mark = self.quote, self.mark
        columns: Sequence[str]
        if kind == "event":
            table, columns = transaction_events.name, _EVENT_COLUMNS
        else:
            table, columns = transactions.name, _STATE_FIELDS
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
            sql += f" ON CONFLICT ({quote('ref_id')}) DO UPDATE SET " + ", ".join(
                f"{quote(name)} = excluded.{quote(name)}"
                for name in _STATE_FIELDS
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

    def _state_rows(self, states: Sequence[TransactionState]) -> list[tuple[Any, ...]]:
        rows = []
        for state in states:
            values = [getattr(state, name) for name in _STATE_FIELDS]
            for at in _TIME_AT:
                values[at] = self.time(values[at])
            for at in _ENUM_AT:
                values[at] = values[at].value
            rows.append(tuple(values))
        return rows

    def _event_rows(self, events: Sequence[_EventWrite]) -> list[tuple[Any, ...]]:
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


_WRITES: dict[str, _Writes] = {}


@functools.lru_cache(maxsize=4096)
def _sqlite_time(value: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME text for an aware time, so comparisons hold. Cached: a
    new row's first-seen, changed and final times and its event's time are the same."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _event(row: Row[Any]) -> Event:
    return Event(
        source=Source(row.source),
        at=row.observed_at,
        outcome=Outcome(row.outcome),
        rc=row.rc,
        applied=bool(row.applied),
    )
