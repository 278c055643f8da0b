"""Retention: what the store deletes and blanks as it ages (`RETENTION_DAYS`).

Run by the monitor's leader at least hourly (bot.incidents.tick), beside its ticks:

- final transactions (success, failed) that happened (`started_at`) more than
  RETENTION_DAYS ago, with their history; pending ones are never deleted;
- resolved incidents resolved more than RETENTION_DAYS ago, with their outbox rows;
- outbox rows delivered or dropped (sent, superseded, failed, given up) over 7 days ago;
- refused-callback counts older than RETENTION_DAYS;
- the customer number and serial (`customer_id`, `sn`) of the history's payloads observed
  over 30 days ago are blanked (JSON null): once per row, behind a bookmark kept in the
  `retention` table (history ids only grow), so a run reads only the rows since the last.

Everything goes in small batches, each its own short transaction, so a callback waits at
most one batch: on Postgres the rows to delete are taken with SKIP LOCKED (a row a callback
holds is left for the next run) and a batch gives up on any lock after LOCK_TIMEOUT_MS
rather than wait; on SQLite a batch holds the write lock for a few milliseconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    case,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.outcomes import FINAL_VALUES
from bot.store.schema import (
    UTCDateTime,
    callback_refusals,
    incidents,
    outbox,
    retention,
    transaction_events,
    transactions,
)

log = logging.getLogger(__name__)

# The one row of `retention`.
RETENTION_ROW = "store"
# Delivered or dropped outbox rows are kept this long (what was said, for a look back).
OUTBOX_KEPT = timedelta(days=7)
# The history's customer numbers and serials are blanked after this.
BLANKED_AFTER = timedelta(days=30)
# The leader runs retention this often (and once when it takes the lead).
RUN_EVERY = timedelta(hours=1)
# Transactions (or incidents, outbox rows, history rows to blank) per batch: a few
# thousand rows per statement with their history, milliseconds of locks
# (benchmarks/RESULTS.md, "Retention").
BATCH = 1_000
# How long a batch waits for a row lock on Postgres before it gives up (the run goes on
# with the next part; what was left is tried again at the next run).
LOCK_TIMEOUT_MS = 200
# Between batches, so that callbacks queued behind one (SQLite's write lock) go first...
PAUSE_SECONDS = 0.005
# ... and at least as long as the batch took: retention keeps the database (and its CPU,
# on a small plan) busy half the time at most, however large the backlog.
REST = 1.0
# Outbox states that are done with: never delivered again.
_OUTBOX_DONE = ("sent", "superseded", "failed", "given_up")
_RESOLVED = "resolved"
_DONE = object()


@dataclass(frozen=True)
class RetentionPolicy:
    """How long what is kept (RETENTION_DAYS; None: keep everything)."""

    keep: timedelta
    outbox_kept: timedelta = OUTBOX_KEPT
    blank_after: timedelta = BLANKED_AFTER
    batch: int = BATCH
    pause: float = PAUSE_SECONDS
    rest: float = REST

    @classmethod
    def of_days(cls, days: int) -> RetentionPolicy | None:
        """The policy for RETENTION_DAYS (0: none, everything is kept)."""
        return cls(keep=timedelta(days=days)) if days > 0 else None


@dataclass
class RetentionReport:
    """What one run deleted and blanked, in rows."""

    transactions: int = 0
    history: int = 0
    incidents: int = 0
    outbox: int = 0
    refusals: int = 0
    blanked: int = 0
    # stopped early: the lead was lost, the process stops, or a lock was not to be had
    interrupted: bool = False

    @property
    def deleted(self) -> int:
        """Rows deleted, every table together."""
        return self.transactions + self.history + self.incidents + self.outbox + self.refusals

    def deleted_by_table(self) -> dict[str, int]:
        """Rows deleted per table."""
        names = {
            "transactions": "transactions",
            "history": "transaction_events",
            "incidents": "incidents",
            "outbox": "outbox",
            "refusals": "callback_refusals",
        }
        return {table: getattr(self, name) for name, table in names.items()}

    def summary(self) -> str:
        """One line for the log."""
        counted = ", ".join(
            f"{item.name} {getattr(self, item.name)}"
            for item in fields(self)
            if item.name != "interrupted"
        )
        return counted + (" (interrupted)" if self.interrupted else "")


@dataclass(frozen=True)
class RetentionRun:
    """The last run that finished, as stored."""

    at: datetime
    deleted: int
    blanked: int


class _Stop(Exception):
    """The run is to stop (lead lost, process stopping)."""


class Retention:
    """Deletes and blanks what RETENTION_DAYS says is old, a batch at a time."""

    def __init__(self, engine: Engine, policy: RetentionPolicy) -> None:
        self.engine = engine
        self.policy = policy
        self.postgres = engine.dialect.name == "postgresql"

    def run(self, now: datetime, keep_going: Callable[[], bool] = lambda: True) -> RetentionReport:
        """Delete and blank everything that is old at `now`, batch after batch, while
        `keep_going()` (asked after each batch, before the next) says so. Stops early on a
        lock it would have to wait for; whatever is left is done at the next run."""
        report = RetentionReport()
        keep = now - self.policy.keep
        parts: list[Callable[[], Iterator[None]]] = [
            lambda: self._transactions(keep, report),
            lambda: self._incidents(keep, report),
            lambda: self._outbox(now - self.policy.outbox_kept, report),
            lambda: self._refusals(keep, report),
            lambda: self._blank(now - self.policy.blank_after, report),
        ]
        try:
            for part in parts:
                try:
                    batches = part()
                    while True:
                        started = time.perf_counter()
                        if next(batches, _DONE) is _DONE:
                            break
                        took = time.perf_counter() - started
                        time.sleep(max(self.policy.pause, took * self.policy.rest))
                        if not keep_going():
                            raise _Stop
                except OperationalError as exc:
                    if not _lock_not_available(exc):
                        raise
                    # a callback (or the tick) holds what this batch needs: leave it
                    log.info("retention: a batch gave way to a lock; the rest waits a run")
                    report.interrupted = True
        except _Stop:
            report.interrupted = True
        if not report.interrupted:
            self._record_run(now, report)
        return report

    def last_run(self) -> RetentionRun | None:
        """The last run that finished, if any."""
        with self.engine.connect() as connection:
            return last_run(connection)

    @contextmanager
    def _batch(self) -> Iterator[Connection]:
        """One batch's transaction: short, and on Postgres never waiting long on a lock."""
        with self.engine.connect().execution_options(write=True) as connection, connection.begin():
            if self.postgres:
                connection.exec_driver_sql(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
            yield connection

    def _transactions(self, before: datetime, report: RetentionReport) -> Iterator[None]:
        batch = self.policy.batch
        for outcome in FINAL_VALUES:
            # A keyset on the index (outcome, started_at, …): each batch starts where the
            # last ended, never reading again the index entries it deleted.
            since: datetime | None = None
            while True:
                with self._batch() as connection:
                    if self.postgres:
                        found, history, since = self._delete_postgres(
                            connection, outcome, before, since
                        )
                    else:
                        found, history, since = self._delete_sqlite(
                            connection, outcome, before, since
                        )
                report.transactions += found
                report.history += history
                if not found:
                    break
                yield
                if found < batch:
                    break

    def _doomed(self, outcome: str, before: datetime, since: datetime | None) -> Select[Any]:
        """The next batch of final transactions of one outcome that happened before
        `before` (from `since` on), taken on Postgres only if no one holds them."""
        t = transactions.c
        query = (
            select(t.ref_id, t.started_at)
            .where(t.outcome == outcome, t.started_at < before)
            .order_by(t.started_at)
            .limit(self.policy.batch)
            .with_for_update(skip_locked=True)
        )
        return query.where(t.started_at >= since) if since is not None else query

    def _delete_postgres(
        self, connection: Connection, outcome: str, before: datetime, since: datetime | None
    ) -> tuple[int, int, datetime | None]:
        # One statement: no ref_id travels to the bot and back (the web process's own
        # callbacks share its interpreter).
        doomed = self._doomed(outcome, before, since).cte("doomed")
        events = (
            delete(transaction_events)
            .where(transaction_events.c.ref_id == doomed.c.ref_id)
            .returning(transaction_events.c.id)
            .cte("events")
        )
        gone = (
            delete(transactions)
            .where(transactions.c.ref_id == doomed.c.ref_id)
            .returning(transactions.c.started_at)
            .cte("gone")
        )
        row = connection.execute(
            select(
                func.count(),
                func.max(gone.c.started_at, type_=UTCDateTime()),
                select(func.count()).select_from(events).scalar_subquery(),
            ).select_from(gone)
        ).one()
        return int(row[0]), int(row[2]), row[1] if row[1] is not None else since

    def _delete_sqlite(
        self, connection: Connection, outcome: str, before: datetime, since: datetime | None
    ) -> tuple[int, int, datetime | None]:
        rows = connection.execute(self._doomed(outcome, before, since)).all()
        if not rows:
            return 0, 0, since
        ref_ids = [row.ref_id for row in rows]
        history = connection.execute(
            delete(transaction_events).where(transaction_events.c.ref_id.in_(ref_ids))
        ).rowcount
        found = connection.execute(
            delete(transactions).where(transactions.c.ref_id.in_(ref_ids))
        ).rowcount
        return found, history, rows[-1].started_at

    def _incidents(self, before: datetime, report: RetentionReport) -> Iterator[None]:
        i = incidents.c
        while True:
            with self._batch() as connection:
                ids = list(
                    connection.scalars(
                        select(i.id)
                        .where(i.status == _RESOLVED, i.resolved_at < before)
                        .order_by(i.id)
                        .limit(self.policy.batch)
                        .with_for_update(skip_locked=True)
                    )
                )
                if not ids:
                    return
                report.outbox += connection.execute(
                    delete(outbox).where(outbox.c.incident_id.in_(ids))
                ).rowcount
                # what the foreign key's ON DELETE SET NULL does, said here so that it is
                # done the same whatever the database enforces
                connection.execute(
                    update(transactions)
                    .where(transactions.c.incident_id.in_(ids))
                    .values(incident_id=None)
                )
                report.incidents += connection.execute(
                    delete(incidents).where(i.id.in_(ids))
                ).rowcount
            yield
            if len(ids) < self.policy.batch:
                return

    def _outbox(self, before: datetime, report: RetentionReport) -> Iterator[None]:
        o = outbox.c
        while True:
            with self._batch() as connection:
                ids = list(
                    connection.scalars(
                        select(o.id)
                        .where(o.state.in_(_OUTBOX_DONE), o.created_at < before)
                        .order_by(o.id)
                        .limit(self.policy.batch)
                        .with_for_update(skip_locked=True)
                    )
                )
                if not ids:
                    return
                report.outbox += connection.execute(delete(outbox).where(o.id.in_(ids))).rowcount
            yield
            if len(ids) < self.policy.batch:
                return

    def _refusals(self, before: datetime, report: RetentionReport) -> Iterator[None]:
        r = callback_refusals.c
        while True:
            with self._batch() as connection:
                ids = list(
                    connection.scalars(
                        select(r.id)
                        .where(r.last_at < before)
                        .order_by(r.id)
                        .limit(self.policy.batch)
                        .with_for_update(skip_locked=True)
                    )
                )
                if not ids:
                    return
                report.refusals += connection.execute(
                    delete(callback_refusals).where(r.id.in_(ids))
                ).rowcount
            yield
            if len(ids) < self.policy.batch:
                return

    def _blank(self, before: datetime, report: RetentionReport) -> Iterator[None]:
        """Blank the history's customer numbers and serials observed before `before`, in id
        order from the bookmark: the bookmark moves past a row once it is blanked, and
        stops at the first row too young (history ids grow with time: a row inserted
        later has a later id, so none is passed over)."""
        e = transaction_events.c
        while True:
            with self._batch() as connection:
                through = self._bookmark(connection)
                # the next batch of ids: where it ends, and its first row too young
                ids = (
                    select(e.id, e.observed_at)
                    .where(e.id > through)
                    .order_by(e.id)
                    .limit(self.policy.batch)
                    .subquery()
                )
                last, young, count = connection.execute(
                    select(
                        func.max(ids.c.id),
                        func.min(case((ids.c.observed_at >= before, ids.c.id))),
                        func.count(),
                    )
                ).one()
                if not count:
                    return
                upto = int(last) if young is None else int(young) - 1
                if upto <= through:
                    return
                report.blanked += connection.execute(
                    text(self._blank_sql()), {"after": through, "upto": upto}
                ).rowcount
                connection.execute(
                    update(retention)
                    .where(retention.c.name == RETENTION_ROW)
                    .values(blanked_through=upto)
                )
            yield
            if young is not None or count < self.policy.batch:
                return

    def _blank_sql(self) -> str:
        # Only rows that still hold either: blanking again writes nothing.
        if self.postgres:
            return (
                "UPDATE transaction_events SET data = (data::jsonb || "
                """'{"customer_id": null, "sn": null}'::jsonb)::json """
                "WHERE id > :after AND id <= :upto AND "
                "(data->>'customer_id' IS NOT NULL OR data->>'sn' IS NOT NULL)"
            )
        return (
            "UPDATE transaction_events SET data = "
            "json_set(data, '$.customer_id', NULL, '$.sn', NULL) "
            "WHERE id > :after AND id <= :upto AND "
            "(json_extract(data, '$.customer_id') IS NOT NULL "
            "OR json_extract(data, '$.sn') IS NOT NULL)"
        )

    def _bookmark(self, connection: Connection) -> int:
        """Where blanking got to. Never past the newest history row: SQLite gives a new row
        the highest id plus one, so had the newest rows been deleted, ids would come again."""
        through = connection.scalar(
            select(retention.c.blanked_through).where(retention.c.name == RETENTION_ROW)
        )
        if through is None:
            try:
                with connection.begin_nested():
                    connection.execute(insert(retention).values(name=RETENTION_ROW))
            except IntegrityError:
                pass  # another process made it meanwhile
            through = 0
        newest = connection.scalar(select(func.max(transaction_events.c.id))) or 0
        return min(int(through), int(newest))

    def _record_run(self, now: datetime, report: RetentionReport) -> None:
        with self._batch() as connection:
            self._bookmark(connection)  # the row exists from here on
            connection.execute(
                update(retention)
                .where(retention.c.name == RETENTION_ROW)
                .values(
                    last_run_at=now,
                    last_run_deleted=report.deleted,
                    last_run_blanked=report.blanked,
                )
            )


def last_run(connection: Connection) -> RetentionRun | None:
    """The last retention run that finished, as stored (for /healthz)."""
    row = connection.execute(
        select(
            retention.c.last_run_at, retention.c.last_run_deleted, retention.c.last_run_blanked
        ).where(retention.c.name == RETENTION_ROW)
    ).first()
    if row is None or row.last_run_at is None:
        return None
    return RetentionRun(
        row.last_run_at, int(row.last_run_deleted or 0), int(row.last_run_blanked or 0)
    )


def _lock_not_available(exc: OperationalError) -> bool:
    """The database gave up waiting for a lock: Postgres's lock_timeout (55P03), SQLite's
    busy timeout (the store's writer held the file's write lock all that time)."""
    return getattr(exc.orig, "sqlstate", None) == "55P03" or "database is locked" in str(exc.orig)
