"""One batch of observations, one database transaction: lock the batch's transactions, merge
each observation into its state (bot.store.states: state only moves forward), write the
new states, the keys they are found by (bot.store.search_keys) and the history, commit.

It speaks the database driver's own interface (DB-API) and SQL, with no SQLAlchemy: it
runs in the store's writer process, which loads nothing it does not need, as well as in
the web process. What it writes, the SQLAlchemy side reads back (tests check it to the
microsecond).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.outcomes import Line, Outcome, Source
from bot.store.connect import POSTGRES_WRITE_TIMEOUTS
from bot.store.search_keys import transaction_keys
from bot.store.states import STATE_FIELDS, Observation, Recorded, TransactionState, merge

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
# Rows per statement: far below SQLite's 32,766 and Postgres's 65,535 parameters.
CHUNK = 256


class Cursor(Protocol):
    """What a DB-API cursor does for us."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def close(self) -> None: ...


class DBConnection(Protocol):
    """What a DB-API connection does for us (sqlite3's, psycopg's, or SQLAlchemy's proxy)."""

    def cursor(self) -> Any: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


def write_batch(
    connection: DBConnection, dialect: str, observations: Sequence[Observation]
) -> list[Recorded]:
    """Apply observations in order, in one database transaction; retried on a race."""
    statements = _Statements.of(dialect)
    for attempt in range(3):
        cursor = connection.cursor()
        try:
            cursor.execute(statements.begin)
            results = _apply(cursor, statements, observations)
            connection.commit()
            return results
        except Exception as exc:
            connection.rollback()
            # Another writer inserted the same new ref_id or observation between our read
            # and our write (the retry sees its row, locked, and merges onto it); or
            # Postgres picked this transaction as a deadlock or serialization victim.
            if not is_race(exc) or attempt == 2:
                raise
        finally:
            cursor.close()
    raise AssertionError("unreachable")


def is_race(exc: BaseException) -> bool:
    """A write that lost a race with another writer: trying again will do."""
    return "IntegrityError" in _kinds(exc) or getattr(exc, "sqlstate", None) in (
        "40P01",
        "40001",
    )


def is_outage(exc: BaseException) -> bool:
    """The database is down, stalled, locked or unreachable: not the data's fault."""
    return bool({"OperationalError", "InterfaceError"} & _kinds(exc))


def _kinds(exc: BaseException) -> set[str]:
    # The DB-API names its errors alike in every driver (PEP 249), so one check serves
    # sqlite3 and psycopg without loading the other.
    return {kind.__name__ for kind in type(exc).__mro__}


def _apply(
    cursor: Cursor, statements: _Statements, observations: Sequence[Observation]
) -> list[Recorded]:
    ref_ids = sorted({observation.ref_id for observation in observations})
    cursor.execute(statements.lock_states(len(ref_ids)), ref_ids)
    states = {state.ref_id: state for state in map(statements.state, cursor.fetchall())}
    stored = dict(states)
    encoded = [observation.encoded() for observation in observations]
    prints = [fingerprint for _, fingerprint in encoded]
    cursor.execute(statements.seen_prints(len(prints)), prints)
    seen = {row[0] for row in cursor.fetchall()}
    results: list[Recorded] = []
    events: list[_Event] = []
    dirty: set[str] = set()
    for observation, (payload, fingerprint) in zip(observations, encoded, strict=True):
        before = states.get(observation.ref_id)
        if fingerprint in seen:
            results.append(Recorded(_outcome(before), changed=False, duplicate=True))
            continue
        after = merge(before, observation)
        results.append(Recorded(_outcome(after), changed=after != before, duplicate=False))
        if after is None:
            continue
        seen.add(fingerprint)
        states[observation.ref_id] = after
        if after != before:
            dirty.add(observation.ref_id)
        events.append((observation, fingerprint, payload, after != before))

    new = [states[ref_id] for ref_id in sorted(dirty - stored.keys())]
    if new:
        statements.run(cursor, "insert", statements.state_rows(new))
    changed = [states[ref_id] for ref_id in sorted(dirty & stored.keys())]
    if changed:
        statements.run(cursor, "update", statements.state_rows(changed))
    _write_keys(
        cursor, statements, [stored.get(ref_id) for ref_id in sorted(dirty)], [*new, *changed]
    )
    if events:
        # in fingerprint order, so racing writers meet their duplicates in the same order
        events.sort(key=lambda event: event[1])
        statements.run(cursor, "event", statements.event_rows(events))
    return results


def _write_keys(
    cursor: Cursor,
    statements: _Statements,
    before: Sequence[TransactionState | None],
    after: Sequence[TransactionState],
) -> None:
    """The keys each written state is found by. Every key of a written state is (re)inserted,
    present or not, so a transaction stored by code from before the keys existed becomes
    findable the next time it changes; a key it lost (its serial corrected) goes."""
    rows: list[tuple[str, str]] = []
    gone: list[tuple[str, str]] = []
    now = {state.ref_id: _keys(state) for state in after}
    for state in before:
        if state is not None:
            gone += [(key, state.ref_id) for key in sorted(_keys(state) - now[state.ref_id])]
    for ref_id in sorted(now):
        rows += [(key, ref_id) for key in sorted(now[ref_id])]
    for row in gone:
        cursor.execute(statements.forget_key, row)
    if rows:
        statements.run(cursor, "key", rows)


def _keys(state: TransactionState) -> set[str]:
    return transaction_keys(state.customer_id, state.tr_id, state.sn)


def _outcome(state: TransactionState | None) -> Outcome | None:
    return state.outcome if state is not None else None


# An observation to append to the history: (observation, fingerprint, payload JSON, applied).
_Event = tuple[Observation, str, str, bool]

EVENT_COLUMNS = (
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
KEY_COLUMNS = ("key", "ref_id")
# Positions in a state row whose values need converting: times, and enums to text.
_TIME_AT = [
    n
    for n, name in enumerate(STATE_FIELDS)
    if name
    in ("created_at", "started_at", "first_seen_at", "changed_at", "final_at", "conflict_at")
]
_OUTCOME_AT = STATE_FIELDS.index("outcome")
_SOURCE_AT = STATE_FIELDS.index("source")
_LINE_AT = STATE_FIELDS.index("line")


class _Statements:
    """The batch's SQL for one database, built once: one multi-row statement per table and
    batch (in chunks), values converted as the columns' SQLAlchemy types would (times as
    SQLAlchemy's SQLite text, or aware UTC on Postgres)."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == SQLITE
        self.mark = "?" if self.sqlite else "%s"
        # A writer takes the write lock up front on SQLite, so a transaction that reads
        # then writes cannot fail halfway because another process wrote meanwhile; on
        # Postgres the locks are per row (FOR UPDATE), and a stall is cut short.
        self.begin = "BEGIN IMMEDIATE" if self.sqlite else POSTGRES_WRITE_TIMEOUTS
        self.forget_key = (
            f"DELETE FROM transaction_keys WHERE key = {self.mark} AND ref_id = {self.mark}"  # noqa: S608
        )
        self._sql: dict[tuple[str, int], str] = {}

    @classmethod
    def of(cls, dialect: str) -> _Statements:
        """The statements of one dialect, built once."""
        statements = _BY_DIALECT.get(dialect)
        if statements is None:
            statements = _BY_DIALECT[dialect] = cls(dialect)
        return statements

    def lock_states(self, count: int) -> str:
        """SELECT the current state of `count` ref_ids, locked, in ref_id order (two writers
        then always lock in the same order and never deadlock)."""
        key = ("lock", count)
        sql = self._sql.get(key)
        if sql is None:
            lock = "" if self.sqlite else " FOR UPDATE"
            sql = self._sql[key] = (
                f"SELECT {', '.join(STATE_FIELDS)} FROM transactions "  # noqa: S608
                f"WHERE ref_id IN ({', '.join([self.mark] * count)}) ORDER BY ref_id{lock}"
            )
        return sql

    def seen_prints(self, count: int) -> str:
        """SELECT which of `count` fingerprints are stored already."""
        key = ("seen", count)
        sql = self._sql.get(key)
        if sql is None:
            sql = self._sql[key] = (
                "SELECT fingerprint FROM transaction_events "  # noqa: S608
                f"WHERE fingerprint IN ({', '.join([self.mark] * count)})"
            )
        return sql

    def state(self, row: Sequence[Any]) -> TransactionState:
        """A TransactionState from a row of `lock_states`."""
        values = list(row)
        for at in _TIME_AT:
            values[at] = self.read_time(values[at])
        values[_OUTCOME_AT] = Outcome(values[_OUTCOME_AT])
        values[_SOURCE_AT] = Source(values[_SOURCE_AT])
        values[_LINE_AT] = Line(values[_LINE_AT])
        return TransactionState(*values)

    def run(self, cursor: Cursor, kind: str, rows: list[tuple[Any, ...]]) -> None:
        """Insert new states ("insert"), write changed ones ("update"), append history
        ("event"), or add the keys states are found by ("key")."""
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            sql = self._sql.get((kind, len(chunk)))
            if sql is None:
                sql = self._sql[kind, len(chunk)] = self._build(kind, len(chunk))
            cursor.execute(sql, tuple(itertools.chain.from_iterable(chunk)))

    def _build(self, kind: str, count: int) -> str:
        columns: Sequence[str]
        if kind == "event":
            table, columns = "transaction_events", EVENT_COLUMNS
        elif kind == "key":
            table, columns = "transaction_keys", KEY_COLUMNS
        else:
            table, columns = "transactions", STATE_FIELDS
        marks = [
            f"CAST({self.mark} AS JSON)" if name == "data" and not self.sqlite else self.mark
            for name in columns
        ]
        row = f"({', '.join(marks)})"
        # identifiers are our own schema's; every value is a bound parameter
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
            f"VALUES {', '.join([row] * count)}"
        )
        if kind == "key":
            sql += " ON CONFLICT (key, ref_id) DO NOTHING"
        if kind == "update":
            # The rows exist and this transaction has locked them, so the upsert always
            # takes its DO UPDATE branch: a whole batch of changed states in one statement.
            sql += " ON CONFLICT (ref_id) DO UPDATE SET " + ", ".join(
                f"{name} = excluded.{name}" for name in STATE_FIELDS if name != "ref_id"
            )
        return sql

    def write_time(self, value: datetime | None) -> datetime | str | None:
        """What UTCDateTime binds: naive UTC text on SQLite, an aware datetime elsewhere."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        if self.sqlite:
            return _sqlite_time(value)
        return value.astimezone(UTC)

    def read_time(self, value: datetime | str | None) -> datetime | None:
        """What UTCDateTime reads: aware UTC, from SQLite's text or Postgres's timestamptz."""
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def state_rows(self, states: Sequence[TransactionState]) -> list[tuple[Any, ...]]:
        """Bind values of transaction states, in STATE_FIELDS order."""
        rows = []
        for state in states:
            values = [getattr(state, name) for name in STATE_FIELDS]
            for at in _TIME_AT:
                values[at] = self.write_time(values[at])
            values[_OUTCOME_AT] = values[_OUTCOME_AT].value
            values[_SOURCE_AT] = values[_SOURCE_AT].value
            values[_LINE_AT] = values[_LINE_AT].value
            rows.append(tuple(values))
        return rows

    def event_rows(self, events: Sequence[_Event]) -> list[tuple[Any, ...]]:
        """Bind values of history rows, in EVENT_COLUMNS order."""
        return [
            (
                observation.data.ref_id,
                fingerprint,
                observation.source.value,
                self.write_time(observation.observed_at),
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
