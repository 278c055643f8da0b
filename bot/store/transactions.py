"""Transactions: their current state, how observations move it, and the SQL behind both."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, Row, func, select
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

    def fingerprint(self, payload: dict[str, Any] | None = None) -> str:
        """Identical observations (a retried callback) share a fingerprint and are stored once."""
        payload = self.payload() if payload is None else payload
        canonical = json.dumps(
            [self.source.value, payload, self.created_at.isoformat() if self.created_at else None],
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


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

    def to_row(self) -> dict[str, Any]:
        """Column values for the `transactions` table."""
        values = {name: getattr(self, name) for name in _STATE_FIELDS}
        values["outcome"] = self.outcome.value
        values["source"] = self.source.value
        return values


_STATE_FIELDS = tuple(field.name for field in fields(TransactionState))


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
        # Lock in ref_id order so two writers can never deadlock on the same rows.
        rows = connection.execute(
            select(transactions)
            .where(transactions.c.ref_id.in_(ref_ids))
            .order_by(transactions.c.ref_id)
            .with_for_update()
        )
        states: dict[str, TransactionState] = {
            row.ref_id: TransactionState.from_row(row) for row in rows
        }
        stored = set(states)
        payloads = [observation.payload() for observation in observations]
        prints = [
            observation.fingerprint(payload)
            for observation, payload in zip(observations, payloads, strict=True)
        ]
        seen = set(
            connection.execute(
                select(transaction_events.c.fingerprint).where(
                    transaction_events.c.fingerprint.in_(prints)
                )
            ).scalars()
        )
        results: list[Recorded] = []
        events: list[_EventWrite] = []
        dirty: set[str] = set()
        for observation, fingerprint, payload in zip(observations, prints, payloads, strict=True):
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
            connection.exec_driver_sql(writes.insert_transaction, writes.state_rows(new))
        changed = [states[ref_id] for ref_id in sorted(dirty & stored)]
        if changed:
            connection.exec_driver_sql(
                writes.update_transaction, writes.state_rows(changed, key_last=True)
            )
        if events:
            # in fingerprint order, so racing writers meet their duplicates in the same order
            events.sort(key=lambda event: event[1])
            connection.exec_driver_sql(writes.insert_event, writes.event_rows(events))
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

    def pending_older_than(self, cutoff: datetime, limit: int = 1000) -> list[TransactionState]:
        """Transactions still pending (or unknown) that the bot first saw before `cutoff`."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(transactions)
                .where(
                    transactions.c.outcome.in_([Outcome.PENDING.value, Outcome.UNKNOWN.value]),
                    transactions.c.first_seen_at < cutoff,
                )
                .order_by(transactions.c.first_seen_at)
                .limit(limit)
            ).all()
        return [TransactionState.from_row(row) for row in rows]

    def failures_by_rc(self, since: datetime, until: datetime | None = None) -> dict[str, int]:
        """How many transactions failed with each rc in [since, until)."""
        with self.engine.connect() as connection:
            return failures_by_rc(connection, since, until)

    def ping(self) -> None:
        """Raise unless the database answers."""
        with self.engine.connect() as connection:
            connection.execute(select(1))


def failures_by_rc(
    connection: Connection, since: datetime, until: datetime | None = None
) -> dict[str, int]:
    """The monitor's "failures per rc since T": failed transactions per rc in [since, until),
    answered from the (outcome, final_at, rc) index alone."""
    conditions = [transactions.c.outcome == Outcome.FAILED.value, transactions.c.final_at >= since]
    if until is not None:
        conditions.append(transactions.c.final_at < until)
    rows = connection.execute(
        select(transactions.c.rc, func.count()).where(*conditions).group_by(transactions.c.rc)
    ).all()
    return {str(rc): int(count) for rc, count in rows if rc}


# An observation to append to the history: (observation, fingerprint, payload, applied).
_EventWrite = tuple[Observation, str, dict[str, Any], bool]

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
_TIME_FIELDS = frozenset(
    name for name in _STATE_FIELDS if isinstance(transactions.c[name].type, UTCDateTime)
)


@dataclass(frozen=True)
class _Writes:
    """The write path's three statements in the driver's own SQL, and their values converted
    the way the columns' SQLAlchemy types would convert them.

    Every stored callback goes through here. SQLAlchemy's per-row bind processing cost more
    CPU than the rest of the write together (and the writer shares the GIL with the request
    handlers), so these statements go to the driver as they are: the same rows, a fraction
    of the cost. Reads keep using SQLAlchemy; tests read back what this writes through it.
    """

    insert_transaction: str
    update_transaction: str
    insert_event: str
    sqlite: bool

    @classmethod
    def of(cls, connection: Connection) -> _Writes:
        dialect = connection.dialect
        writes = _WRITES.get(dialect.name)
        if writes is None:
            writes = _WRITES[dialect.name] = cls.build(dialect)
        return writes

    @classmethod
    def build(cls, dialect: Dialect) -> _Writes:
        sqlite = dialect.name == "sqlite"
        mark = "?" if sqlite else "%s"
        quote = dialect.identifier_preparer.quote
        state = [name for name in _STATE_FIELDS if name != "ref_id"]

        def insert(table: str, columns: Sequence[str], json_column: str | None = None) -> str:
            marks = [
                f"CAST({mark} AS JSON)" if name == json_column and not sqlite else mark
                for name in columns
            ]
            return (
                # identifiers come from our own schema; every value is a bound parameter
                f"INSERT INTO {quote(table)} ({', '.join(quote(name) for name in columns)}) "  # noqa: S608
                f"VALUES ({', '.join(marks)})"
            )

        return cls(
            insert_transaction=insert(transactions.name, ["ref_id", *state]),
            update_transaction=(
                f"UPDATE {quote(transactions.name)} SET "  # noqa: S608
                + ", ".join(f"{quote(name)} = {mark}" for name in state)
                + f" WHERE {quote('ref_id')} = {mark}"
            ),
            insert_event=insert(transaction_events.name, _EVENT_COLUMNS, json_column="data"),
            sqlite=sqlite,
        )

    def time(self, value: datetime | None) -> datetime | str | None:
        """What UTCDateTime binds: naive UTC text on SQLite, an aware datetime elsewhere."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        value = value.astimezone(UTC)
        if self.sqlite:  # SQLAlchemy's SQLite DATETIME text format, so comparisons hold
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")
        return value

    def state_rows(
        self, states: Sequence[TransactionState], *, key_last: bool = False
    ) -> list[tuple[Any, ...]]:
        """Parameters for insert_transaction, or update_transaction with key_last."""
        rows = []
        for state in states:
            values = [
                self.time(value) if name in _TIME_FIELDS else value
                for name, value in zip(_STATE_FIELDS, _state_values(state), strict=True)
            ]
            if key_last:
                values.append(values.pop(0))
            rows.append(tuple(values))
        return rows

    def event_rows(self, events: Sequence[_EventWrite]) -> list[tuple[Any, ...]]:
        """Parameters for insert_event."""
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
                json.dumps(payload),
            )
            for observation, fingerprint, payload, applied in events
        ]


_WRITES: dict[str, _Writes] = {}


def _state_values(state: TransactionState) -> list[Any]:
    values = [getattr(state, name) for name in _STATE_FIELDS]
    return [value.value if isinstance(value, Outcome | Source) else value for value in values]


def _event(row: Row[Any]) -> Event:
    return Event(
        source=Source(row.source),
        at=row.observed_at,
        outcome=Outcome(row.outcome),
        rc=row.rc,
        applied=bool(row.applied),
    )
