"""Read-only questions ops ask of the store: what is pending, what happened in a window.

Every query here stays on an index of `transactions` (see `bot.store.schema`), and
judges a transaction by when it happened (`started_at`: the backend's created_at when
known, else when the bot first heard of it): pending lists walk (outcome, started_at);
outcome totals and failures per code and time bucket read only (outcome, started_at, rc,
line). A failure code is named by `bot.outcomes.code_key`: `07` for prepaid, `postpaid 07`
for postpaid, whose table is another.
Synchronous, like the rest of the store: callers on the event loop run them through
`Database.read`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, and_, case, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from bot.iak.models import valid_ref_id
from bot.outcomes import NOT_FINAL, Line, Outcome, code_key
from bot.registry.windows import KNOWN_WINDOWS, KnownWindow
from bot.store.schema import UTCDateTime, transaction_events, transactions
from bot.store.transactions import PendingTransaction

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_PAGE_SIZE = 15
_CURSOR_SEPARATOR = "|"


@dataclass(frozen=True)
class PendingCursor:
    """A place in the oldest-first list of pending transactions: just at one of them.

    Pages are found from a cursor rather than an offset: transactions leave the list while
    someone reads it, and an offset would then skip the ones that moved up a page.
    """

    started_at: datetime
    ref_id: str

    @classmethod
    def at(cls, transaction: PendingTransaction) -> PendingCursor:
        """The cursor at one listed transaction."""
        return cls(transaction.started_at, transaction.ref_id)

    def encode(self) -> str:
        """A short string for a button's value."""
        return f"{self.started_at.isoformat()}{_CURSOR_SEPARATOR}{self.ref_id}"

    @classmethod
    def decode(cls, value: str) -> PendingCursor | None:
        """The cursor `encode` wrote, or None for anything else (values come back from Slack)."""
        moment, separator, ref_id = value.partition(_CURSOR_SEPARATOR)
        if not separator or not valid_ref_id(ref_id):
            return None
        try:
            started_at = datetime.fromisoformat(moment)
        except ValueError:
            return None
        if started_at.tzinfo is None:
            return None
        return cls(started_at, ref_id)


@dataclass(frozen=True)
class PendingPage:
    """One page of the pending list, where it sits in the whole list, and the list's size."""

    transactions: tuple[PendingTransaction, ...]
    # how many are pending in all, and how many of them come before this page
    total: int
    start: int

    @property
    def has_previous(self) -> bool:
        """Whether older pending transactions come before this page."""
        return self.start > 0

    @property
    def has_next(self) -> bool:
        """Whether newer pending transactions follow this page."""
        return self.start + len(self.transactions) < self.total


@dataclass(frozen=True)
class TimeBuckets:
    """A window [start, end) cut into `count` equal buckets, oldest first."""

    start: datetime
    end: datetime
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or self.end <= self.start:
            raise ValueError("need at least one bucket and end after start")

    @classmethod
    def ending(cls, end: datetime, span: timedelta, count: int) -> TimeBuckets:
        """The `span` up to `end` (usually now), in `count` buckets."""
        return cls(end - span, end, count)

    @property
    def span(self) -> timedelta:
        """How long the whole window is."""
        return self.end - self.start

    @property
    def width(self) -> timedelta:
        """How long one bucket is."""
        return self.span / self.count

    def edges(self) -> list[datetime]:
        """The `count + 1` bucket boundaries, from `start` to exactly `end`."""
        inner = [self.start + self.width * index for index in range(1, self.count)]
        return [self.start, *inner, self.end]


@dataclass(frozen=True)
class WindowStats:
    """What happened in one window: outcomes of what arrived, failures by rc over time."""

    window: TimeBuckets
    # current outcome of every transaction first seen in the window
    outcomes: dict[Outcome, int]
    # code key (`07`, `postpaid 07`; None when IAK gave no rc) → failures in each bucket,
    # apart from those a known window expects
    failures: dict[str | None, list[int]]
    # failures a known window expects (IAK's scheduled cut-off), by the window's name
    expected: dict[str, int] = field(default_factory=dict)

    @property
    def transactions(self) -> int:
        """Transactions first seen in the window."""
        return sum(self.outcomes.values())

    @property
    def failure_count(self) -> int:
        """Transactions that failed in the window (by when they failed)."""
        return sum(sum(counts) for counts in self.failures.values())

    def top_failures(self) -> list[tuple[str | None, int]]:
        """(rc, failures) with the most failures first; ties by rc, so the order is stable."""
        totals = [(rc, sum(counts)) for rc, counts in self.failures.items()]
        return sorted(totals, key=lambda item: (-item[1], item[0] or ""))


def on(
    engine: Engine,
    query: Callable[Concatenate[Connection, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """One report query on a connection of its own (blocking: from a worker thread, e.g.
    `await database.read(reports.on, engine, reports.pending_page)`). Every query here
    takes the connection first, so the monitor runs them inside its tick's transaction."""
    with engine.connect() as connection:
        return query(connection, *args, **kwargs)


def pending_page(
    connection: Connection,
    *,
    after: PendingCursor | None = None,
    before: PendingCursor | None = None,
    size: int = DEFAULT_PAGE_SIZE,
) -> PendingPage:
    """A page of pending transactions, oldest first: the first page, or the one right
    after `after` or right before `before`.

    A page asked for past the end (everything after `after` resolved meanwhile) is the
    last page; one asked for before the start is the first page.
    """
    total = connection.execute(
        select(func.count()).select_from(transactions).where(_is_pending())
    ).scalar_one()
    if before is not None:
        rows = _pending_rows(connection, size, before=before)
        if len(rows) < size:
            rows = _pending_rows(connection, size)
    elif after is not None:
        rows = _pending_rows(connection, size, after=after)
        if not rows:
            rows = _pending_rows(connection, size, last=True)
    else:
        rows = _pending_rows(connection, size)
    start = 0
    if rows:
        start = connection.execute(
            select(func.count())
            .select_from(transactions)
            .where(_is_pending(), _before(PendingCursor.at(rows[0])))
        ).scalar_one()
    # The counts and the rows are separate statements: clamp, so a page never claims to end
    # past the total it shows.
    total = max(int(total), int(start) + len(rows))
    return PendingPage(transactions=tuple(rows), total=total, start=int(start))


def not_final_counts(connection: Connection) -> dict[Outcome, int]:
    """How many transactions are pending and unknown now, whenever they happened."""
    rows = connection.execute(
        select(transactions.c.outcome, func.count())
        .where(_is_pending())
        .group_by(transactions.c.outcome)
    ).all()
    counts = dict.fromkeys(NOT_FINAL, 0)
    for outcome, count in rows:
        counts[Outcome(outcome)] = int(count)
    return counts


def failures_by_bucket(
    connection: Connection, window: TimeBuckets, rcs: Sequence[str] | None = None
) -> dict[str | None, list[int]]:
    """Failures per code key in each bucket of `window`, by when the transactions happened.

    Only codes that failed at least once in the window appear; `rcs` narrows the question
    to those rcs, on either line (a spike alert's sparkline needs one).
    """
    started = transactions.c.started_at
    edges = window.edges()
    # One CASE over bound timestamps works alike on SQLite and Postgres, where date
    # arithmetic does not; the database groups, so only rc x bucket rows come back.
    bucket = case(
        *((started < edge, index) for index, edge in enumerate(edges[1:-1])),
        else_=window.count - 1,
    )
    conditions = [
        transactions.c.outcome == Outcome.FAILED.value,
        started >= window.start,
        started < window.end,
    ]
    if rcs is not None:
        conditions.append(transactions.c.rc.in_(list(rcs)))
    # Grouped in an outer query: Postgres does not see the CASE in GROUP BY as the one in
    # SELECT (each has its own bound parameters) and would refuse the statement.
    inner = select(
        transactions.c.rc.label("rc"), transactions.c.line.label("line"), bucket.label("bucket")
    ).where(*conditions)
    counted = inner.subquery()
    rows = connection.execute(
        select(counted.c.rc, counted.c.line, counted.c.bucket, func.count()).group_by(
            counted.c.rc, counted.c.line, counted.c.bucket
        )
    ).all()
    failures: dict[str | None, list[int]] = {}
    for rc, line, index, count in rows:
        key = code_key(Line(line), rc) if rc else None
        failures.setdefault(key, [0] * window.count)[int(index)] += int(count)
    return failures


def window_stats(connection: Connection, window: TimeBuckets) -> WindowStats:
    """Outcome totals and failures per rc over time, for `/iak stats`; failures a known
    window expects are counted apart."""
    failures = failures_by_bucket(connection, window)
    expected = expected_failures(connection, window.start, window.end)
    apart: dict[str, int] = {}
    width = window.width
    for failure in expected:
        buckets = failures.get(failure.key)
        index = min(int((failure.started_at - window.start) / width), window.count - 1)
        if buckets is None or buckets[index] <= 0:
            continue
        buckets[index] -= 1
        apart[failure.window.name] = apart.get(failure.window.name, 0) + 1
    return WindowStats(
        window=window,
        outcomes=outcome_counts(connection, window.start, window.end),
        failures={rc: counts for rc, counts in failures.items() if any(counts)},
        expected=apart,
    )


def failures_by_rc(
    connection: Connection, since: datetime, until: datetime | None = None
) -> dict[str, int]:
    """Failed transactions per code key (`07`, `postpaid 07`) that happened in [since,
    until): answered from the (outcome, started_at, rc, line) index alone."""
    started = transactions.c.started_at
    conditions = [transactions.c.outcome == Outcome.FAILED.value, started >= since]
    if until is not None:
        conditions.append(started < until)
    rc, line = transactions.c.rc, transactions.c.line
    rows = connection.execute(select(rc, line, func.count()).where(*conditions).group_by(rc, line))
    return {code_key(Line(line), str(rc)): int(count) for rc, line, count in rows if rc}


@dataclass(frozen=True)
class ExpectedFailure:
    """A failure that a known window expects."""

    window: KnownWindow
    rc: str
    started_at: datetime
    line: Line

    @property
    def key(self) -> str:
        """The code key it is counted under (`109`, `postpaid 109`)."""
        return code_key(self.line, self.rc)


def expected_failures(
    connection: Connection,
    since: datetime,
    until: datetime,
    windows: Sequence[KnownWindow] = KNOWN_WINDOWS,
) -> list[ExpectedFailure]:
    """Failures that happened in [since, until) inside a known window (IAK's scheduled
    cut-off) with a code it expects. Only the windows' codes are read, so callers subtract
    these from counts that stay on the covering index."""
    rcs = sorted({rc for window in windows for rc in window.rcs})
    t = transactions.c
    rows = connection.execute(
        select(t.rc, t.product_code, t.started_at, t.line).where(
            t.outcome == Outcome.FAILED.value,
            t.started_at >= since,
            t.started_at < until,
            t.rc.in_(rcs),
        )
    ).all()
    found = []
    for row in rows:
        window = next(
            (w for w in windows if w.covers(row.rc, row.product_code, row.started_at)), None
        )
        if window is not None:
            found.append(ExpectedFailure(window, row.rc, row.started_at, Line(row.line)))
    return found


def latest_balance(connection: Connection) -> tuple[int, datetime] | None:
    """The deposit balance IAK last reported (every answer and callback carries it), and when."""
    e = transaction_events.c
    row = connection.execute(
        select(e.balance, e.observed_at)
        .where(e.balance.is_not(None))
        .order_by(e.observed_at.desc(), e.id.desc())
        .limit(1)
    ).first()
    return (int(row.balance), row.observed_at) if row else None


def balance_readings(
    connection: Connection, since: datetime, newest: int | None = None
) -> list[tuple[datetime, int]]:
    """Every balance IAK reported since then, or only the `newest` of them: (when, balance).
    The newest come from the end of the (observed_at, ...) index, however many there are."""
    e = transaction_events.c
    query = select(e.observed_at, e.balance).where(e.balance.is_not(None), e.observed_at >= since)
    if newest is not None:
        query = query.order_by(e.observed_at.desc()).limit(newest)
    rows = connection.execute(query).all()
    return [(at, int(balance)) for at, balance in rows]


def pending_by_age(connection: Connection, now: datetime, edges: Sequence[timedelta]) -> list[int]:
    """How many transactions are not final yet per age band: younger than edges[0], then
    between consecutive edges, then older than the last."""
    started = transactions.c.started_at
    counts = []
    newer: datetime | None = None
    for bound in [*(now - edge for edge in edges), None]:
        conditions: list[ColumnElement[bool]] = [_is_pending()]
        if newer is not None:
            conditions.append(started <= newer)
        if bound is not None:
            conditions.append(started > bound)
        counts.append(int(connection.execute(select(func.count()).where(*conditions)).scalar_one()))
        newer = bound
    return counts


def _is_pending() -> ColumnElement[bool]:
    return transactions.c.outcome.in_([outcome.value for outcome in NOT_FINAL])


def _after(cursor: PendingCursor) -> ColumnElement[bool]:
    """Strictly after the cursor in (started_at, ref_id) order.

    Spelled with a plain range on started_at first, so the index does the narrowing.
    """
    started, ref_id = transactions.c.started_at, transactions.c.ref_id
    return and_(
        started >= cursor.started_at,
        or_(started > cursor.started_at, ref_id > cursor.ref_id),
    )


def _before(cursor: PendingCursor) -> ColumnElement[bool]:
    """Strictly before the cursor in (started_at, ref_id) order."""
    started, ref_id = transactions.c.started_at, transactions.c.ref_id
    return and_(
        started <= cursor.started_at,
        or_(started < cursor.started_at, ref_id < cursor.ref_id),
    )


def _pending_rows(
    connection: Connection,
    size: int,
    *,
    after: PendingCursor | None = None,
    before: PendingCursor | None = None,
    last: bool = False,
) -> list[PendingTransaction]:
    """Up to `size` pending transactions in oldest-first order (read backwards when going
    towards older ones, then turned round)."""
    columns = transactions.c
    query = select(
        columns.ref_id,
        columns.outcome,
        columns.rc,
        columns.product_code,
        columns.customer_id,
        columns.started_at,
        columns.line,
    ).where(_is_pending())
    backwards = before is not None or last
    if after is not None:
        query = query.where(_after(after))
    if before is not None:
        query = query.where(_before(before))
    if backwards:
        query = query.order_by(columns.started_at.desc(), columns.ref_id.desc())
    else:
        query = query.order_by(columns.started_at, columns.ref_id)
    rows = [
        PendingTransaction(
            ref_id=row.ref_id,
            outcome=Outcome(row.outcome),
            rc=row.rc,
            product_code=row.product_code,
            customer_id=row.customer_id,
            started_at=row.started_at,
            line=Line(row.line),
        )
        for row in connection.execute(query.limit(size))
    ]
    return rows[::-1] if backwards else rows


# --- The figures of a whole day (the daily digest) ----------------------------------------


@dataclass(frozen=True)
class ProductVolume:
    """One product's transactions and failures in a window."""

    product_code: str
    transactions: int
    failures: int


def happened_before(connection: Connection, moment: datetime) -> bool:
    """Whether any stored transaction happened before `moment` (one index probe per
    outcome: the outcome/started_at index)."""
    t = transactions.c
    first = connection.execute(
        select(t.ref_id)
        .where(t.outcome.in_([outcome.value for outcome in Outcome]), t.started_at < moment)
        .limit(1)
    ).first()
    return first is not None


def outcome_counts(connection: Connection, since: datetime, until: datetime) -> dict[Outcome, int]:
    """How many transactions that happened in [since, until) are in each outcome now."""
    started = transactions.c.started_at
    rows = connection.execute(
        select(transactions.c.outcome, func.count())
        # Naming every outcome lets both databases walk the (outcome, started_at) index one
        # outcome at a time instead of scanning it whole.
        .where(
            transactions.c.outcome.in_([outcome.value for outcome in Outcome]),
            started >= since,
            started < until,
        )
        .group_by(transactions.c.outcome)
    ).all()
    counts = dict.fromkeys(Outcome, 0)
    for outcome, count in rows:
        counts[Outcome(outcome)] = int(count)
    return counts


def failure_codes(
    connection: Connection, since: datetime, until: datetime
) -> dict[str | None, int]:
    """Failed transactions that happened in [since, until) per code key (`07`, `postpaid
    07`; None: IAK gave no code)."""
    started = transactions.c.started_at
    rc, line = transactions.c.rc, transactions.c.line
    rows = connection.execute(
        select(rc, line, func.count())
        .where(transactions.c.outcome == Outcome.FAILED.value, started >= since, started < until)
        .group_by(rc, line)
    ).all()
    counts: dict[str | None, int] = {}
    for code, line_value, count in rows:
        key = code_key(Line(line_value), str(code)) if code else None
        counts[key] = counts.get(key, 0) + int(count)
    return counts


def activity_by_bucket(connection: Connection, window: TimeBuckets) -> tuple[list[int], list[int]]:
    """Transactions that happened in each bucket of `window`, and how many of them failed."""
    started = transactions.c.started_at
    edges = window.edges()
    bucket = case(
        *((started < edge, index) for index, edge in enumerate(edges[1:-1])),
        else_=window.count - 1,
    )
    failed = case((transactions.c.outcome == Outcome.FAILED.value, 1), else_=0)
    # Grouped in an outer query, as in `failures_by_bucket`, for Postgres's sake.
    inner = (
        select(bucket.label("bucket"), failed.label("failed"))
        .where(
            transactions.c.outcome.in_([outcome.value for outcome in Outcome]),
            started >= window.start,
            started < window.end,
        )
        .subquery()
    )
    rows = connection.execute(
        select(inner.c.bucket, func.count(), func.sum(inner.c.failed)).group_by(inner.c.bucket)
    ).all()
    totals, failures = [0] * window.count, [0] * window.count
    for index, count, failed_count in rows:
        totals[int(index)] += int(count)
        failures[int(index)] += int(failed_count or 0)
    return totals, failures


def product_volumes(
    connection: Connection, since: datetime, until: datetime, *, min_transactions: int
) -> list[ProductVolume]:
    """Products with at least `min_transactions` in [since, until) and at least one failure,
    with their counts."""
    started = transactions.c.started_at
    failed = func.sum(case((transactions.c.outcome == Outcome.FAILED.value, 1), else_=0))
    rows = connection.execute(
        select(transactions.c.product_code, func.count(), failed)
        .where(
            transactions.c.outcome.in_([outcome.value for outcome in Outcome]),
            started >= since,
            started < until,
            transactions.c.product_code.is_not(None),
        )
        .group_by(transactions.c.product_code)
        .having(func.count() >= min_transactions, failed > 0)
    ).all()
    return [ProductVolume(str(code), int(count), int(fails)) for code, count, fails in rows]


def pending_count(
    connection: Connection, since: datetime | None = None, until: datetime | None = None
) -> tuple[int, datetime | None]:
    """How many transactions (that happened in [since, until), if given) are not final
    yet, and when the oldest of them happened."""
    started = transactions.c.started_at
    conditions: list[ColumnElement[bool]] = [_is_pending()]
    if since is not None:
        conditions.append(started >= since)
    if until is not None:
        conditions.append(started < until)
    count, oldest = connection.execute(
        select(func.count(), func.min(started, type_=UTCDateTime())).where(*conditions)
    ).one()
    return int(count), oldest


def sales_total(connection: Connection, since: datetime, until: datetime) -> int:
    """IDR: the prices of the successful transactions that happened in [since, until)."""
    started = transactions.c.started_at
    total = connection.execute(
        select(func.coalesce(func.sum(transactions.c.price), 0)).where(
            transactions.c.outcome == Outcome.SUCCESS.value, started >= since, started < until
        )
    ).scalar_one()
    return int(total)
