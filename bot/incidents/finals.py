"""Final top-ups per product, for operator health: how many, how many failed, and how long
each took from happening to its final outcome (counted per bucket of DURATION_EDGES), in a
window or an hour; and the usual week's hours, each read once and kept (`UsualHours`,
through `bot.incidents.hours`), as `bot.incidents.failures` keeps the day's failures for
the spike and product kinds.

Cheap at a million rows: the window and each hour are aggregated in SQL (per product,
outcome, rc and a bucket of the time to final) from the covering index; products are
mapped to operators by the operator kind, in Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    case,
    extract,
    func,
    literal_column,
    select,
    union_all,
)

from bot.incidents.hours import SettledHours
from bot.outcomes import FINAL_VALUES, Line, Outcome
from bot.store.schema import transactions

# The usual: the operator's previous 7 days, up to the last settled hour before the window.
USUAL_SPAN = timedelta(days=7)
# Upper edges (seconds) of the buckets in which times to final are counted; medians are
# interpolated within a bucket.
DURATION_EDGES: tuple[int, ...] = (
    5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300,
    420, 600, 900, 1200, 1800, 2700, 3600, 7200,
)  # fmt: skip
t = transactions.c

# (product_code, outcome, rc, duration bucket) -> final transactions
FinalCounts = dict[tuple[str, str, str, int], int]


@dataclass(slots=True)
class Tally:
    """Final transactions an operator answers for: how many, how many failed, and how long
    they took to reach a final outcome (counts per DURATION_EDGES bucket)."""

    final: int = 0
    failed: int = 0
    durations: list[int] = field(default_factory=lambda: [0] * (len(DURATION_EDGES) + 1))

    def add(self, outcome: str, bucket: int, count: int) -> None:
        self.final += count
        if outcome == Outcome.FAILED.value:
            self.failed += count
        self.durations[min(max(bucket, 0), len(DURATION_EDGES))] += count

    def absorb(self, other: Tally, sign: int = 1) -> None:
        """Add `other` to this tally (`sign` -1: take it out again)."""
        self.final += sign * other.final
        self.failed += sign * other.failed
        for bucket, count in enumerate(other.durations):
            self.durations[bucket] += sign * count

    @property
    def rate(self) -> float | None:
        return (self.final - self.failed) / self.final if self.final else None

    def median_seconds(self) -> float | None:
        """The median time to final, interpolated within its bucket (the last, open-ended
        bucket counts as its lower edge)."""
        if not self.final:
            return None
        half = self.final / 2
        below = 0
        for bucket, count in enumerate(self.durations):
            if count and below + count >= half:
                low = DURATION_EDGES[bucket - 1] if bucket else 0
                if bucket == len(DURATION_EDGES):
                    return float(low)
                high = DURATION_EDGES[bucket]
                return low + (high - low) * (half - below) / count
            below += count
        return float(DURATION_EDGES[-1])


def product_tallies(counts: FinalCounts, customers: frozenset[str]) -> dict[str, Tally]:
    """Final transactions per product, failures with a code in `customers` (the customer's
    input) left out: what an hour of the usual is kept as."""
    found: dict[str, Tally] = {}
    for (product, outcome, rc, bucket), count in counts.items():
        if outcome == Outcome.FAILED.value and rc in customers:
            continue
        tally = found.get(product)
        if tally is None:
            tally = found[product] = Tally()
        tally.add(outcome, bucket, count)
    return found


def _seconds_to_final(dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return extract("epoch", t.final_at - t.started_at)
    # SQLite keeps UTC text; julianday reads it
    return (func.julianday(t.final_at) - func.julianday(t.started_at)) * 86400.0


def final_counts(connection: Connection, start: datetime, end: datetime) -> FinalCounts:
    """Prepaid transactions that happened in [start, end) and are final, counted per
    product, outcome, rc and bucket of their time to final: one GROUP BY over a range of
    the covering index. On Postgres the bucket is width_bucket's, straight from the index
    (an hour at a million top-ups a day: 38 ms where the CASE below took 54). On SQLite the
    time to final is worked out once a row (MATERIALIZED) and bucketed by a CASE: inlined
    in the CASE, it was worked out once a branch, three times the cost."""
    happened = (
        t.outcome.in_(FINAL_VALUES),
        t.started_at >= start,
        t.started_at < end,
        t.line == Line.PREPAID.value,
    )
    dialect = connection.dialect.name
    # literal constants: the same text in SELECT and GROUP BY (bound parameters would not be)
    last: ColumnElement[Any] = literal_column(str(len(DURATION_EDGES)))
    bucket: ColumnElement[Any]
    if dialect == "postgresql":
        listed = ", ".join(map(str, DURATION_EDGES))
        edges: ColumnElement[Any] = literal_column(f"ARRAY[{listed}]::float8[]")
        bucket = func.coalesce(func.width_bucket(_seconds_to_final(dialect), edges), last)
        query = select(t.product_code, t.outcome, t.rc, bucket, func.count()).where(*happened)
        query = query.group_by(t.product_code, t.outcome, t.rc, bucket)
    else:
        final = (
            select(t.product_code, t.outcome, t.rc, _seconds_to_final(dialect).label("seconds"))
            .where(*happened)
            .cte("final")
            .prefix_with("MATERIALIZED")
        )
        bucket = case(
            *[
                (final.c.seconds < literal_column(str(edge)), literal_column(str(index)))
                for index, edge in enumerate(DURATION_EDGES)
            ],
            else_=last,
        )
        query = select(final.c.product_code, final.c.outcome, final.c.rc, bucket, func.count())
        query = query.group_by(final.c.product_code, final.c.outcome, final.c.rc, bucket)
    return {
        (str(product or "?"), str(outcome), str(rc or "?"), int(bucket)): int(count)
        for product, outcome, rc, bucket, count in connection.execute(query).all()
    }


def earliest_final(connection: Connection, since: datetime) -> datetime | None:
    """When the oldest final transaction since `since` happened (any line): two seeks in
    the covering index."""
    firsts = union_all(
        *(
            select(func.min(t.started_at).label("at")).where(
                t.outcome == outcome, t.started_at >= since
            )
            for outcome in FINAL_VALUES
        )
    ).subquery()
    found: datetime | None = connection.scalar(select(func.min(firsts.c.at)))
    if found is None:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def read_hour(connection: Connection, hour: datetime, customers: frozenset[str]) -> HourTallies:
    """One hour of the usual as it is kept: final transactions per product, the customer's
    failures left out."""
    return product_tallies(final_counts(connection, hour, hour + timedelta(hours=1)), customers)


HourTallies = dict[str, Tally]


class UsualHours(SettledHours[HourTallies]):
    """The usual's hours (`bot.incidents.hours`), each kept as one tally per product, with
    their sum."""

    def __init__(self) -> None:
        super().__init__(USUAL_SPAN)
        self.total: dict[str, Tally] = {}

    def usual(self, window_start: datetime) -> Mapping[str, Tally]:
        """The final transactions per product of the hours read (dropping those that left
        the span); `complete` says whether that is every hour of it."""
        self.keep_to(window_start)
        return self.total

    def _count(self, value: HourTallies, sign: int) -> None:
        for product, tally in value.items():
            total = self.total.get(product)
            if total is None:
                total = self.total[product] = Tally()
            total.absorb(tally, sign)
            if total.final <= 0:
                del self.total[product]
