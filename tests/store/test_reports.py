"""Report queries on SQLite and Postgres: the pending list and its pages, window stats."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import event

from bot.outcomes import Outcome
from bot.registry import Registry
from bot.store.db import create_db_engine
from bot.store.reports import (
    PendingCursor,
    PendingPage,
    TimeBuckets,
    failures_by_bucket,
    on,
    pending_page,
    window_stats,
)
from bot.store.transactions import TransactionStore
from tests.support.transactions import record_all, seen

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[TransactionStore]:
    engine = create_db_engine(database_url)
    yield TransactionStore(engine)
    engine.dispose()


Read = Callable[..., Any]


@pytest.fixture
def read(store: TransactionStore) -> Read:
    """A report query on a connection of its own, as the bot runs one."""
    return partial(on, store.engine)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def ref_ids(page: PendingPage) -> list[str]:
    return [item.ref_id for item in page.transactions]


def test_nothing_pending(read: Read) -> None:
    page = read(pending_page)
    assert page.transactions == ()
    assert page.total == 0
    assert not page.has_previous and not page.has_next


def test_pending_and_unknown_are_listed_oldest_first(
    store: TransactionStore, read: Read, registry: Registry
) -> None:
    record_all(
        store,
        [
            seen(registry, "p-new", minutes(30)),
            seen(registry, "p-old", minutes(0)),
            seen(registry, "u-mid", minutes(10), "unknown"),
            seen(registry, "done", minutes(5), "success"),
            seen(registry, "lost", minutes(6), "failed", rc="17"),
            # pending first, then IAK's callback: no longer pending
            seen(registry, "settled", minutes(1)),
            seen(registry, "settled", minutes(2), "success"),
        ],
    )
    page = read(pending_page)
    assert ref_ids(page) == ["p-old", "u-mid", "p-new"]
    assert page.total == 3
    first = page.transactions[0]
    assert (first.outcome, first.rc, first.product_code) == (Outcome.PENDING, "39", "xld25000")
    assert first.customer_id == "0817777215"
    assert first.started_at == T0
    assert page.transactions[1].outcome is Outcome.UNKNOWN


def test_pages_walk_forward_and_back(
    store: TransactionStore, read: Read, registry: Registry
) -> None:
    # 12 transactions, some seen at the same instant: the ref_id breaks the tie.
    record_all(store, [seen(registry, f"t{n:02d}", minutes(n // 2)) for n in range(12)])
    first = read(pending_page, size=5)
    assert ref_ids(first) == ["t00", "t01", "t02", "t03", "t04"]
    assert (first.start, first.total, first.has_previous, first.has_next) == (0, 12, False, True)

    second = read(pending_page, after=PendingCursor.at(first.transactions[-1]), size=5)
    assert ref_ids(second) == ["t05", "t06", "t07", "t08", "t09"]
    assert (second.start, second.has_previous, second.has_next) == (5, True, True)

    third = read(pending_page, after=PendingCursor.at(second.transactions[-1]), size=5)
    assert ref_ids(third) == ["t10", "t11"]
    assert (third.start, third.has_previous, third.has_next) == (10, True, False)

    back = read(pending_page, before=PendingCursor.at(third.transactions[0]), size=5)
    assert ref_ids(back) == ref_ids(second)
    assert back.start == 5


def test_a_page_does_not_skip_what_moved_up_while_reading(
    store: TransactionStore, read: Read, registry: Registry
) -> None:
    record_all(store, [seen(registry, f"t{n:02d}", minutes(n)) for n in range(10)])
    first = read(pending_page, size=4)
    # Two on the page being read settle; with offsets the next page would skip t04, t05.
    record_all(
        store,
        [
            seen(registry, "t01", minutes(20), "success"),
            seen(registry, "t02", minutes(20), "success"),
        ],
    )
    second = read(pending_page, after=PendingCursor.at(first.transactions[-1]), size=4)
    assert ref_ids(second) == ["t04", "t05", "t06", "t07"]
    assert (second.start, second.total) == (2, 8)


def test_pages_past_either_end_fall_back_to_the_last_or_first(
    store: TransactionStore, read: Read, registry: Registry
) -> None:
    record_all(store, [seen(registry, f"t{n:02d}", minutes(n)) for n in range(6)])
    beyond = PendingCursor(minutes(100), "zzz")
    last = read(pending_page, after=beyond, size=4)
    assert ref_ids(last) == ["t02", "t03", "t04", "t05"]
    assert (last.start, last.has_next) == (2, False)
    # Going back from the second item finds one older than it: show the first page instead.
    first = read(pending_page, before=PendingCursor(minutes(1), "t01"), size=4)
    assert ref_ids(first) == ["t00", "t01", "t02", "t03"]
    assert first.start == 0


@pytest.mark.parametrize(
    "value",
    [
        "",
        "order001",
        "2026-11-28T03:00:00+00:00",
        "2026-11-28T03:00:00|order001",  # naive
        "yesterday|order001",
        "2026-11-28T03:00:00+00:00|has space",
        "2026-11-28T03:00:00+00:00|" + "x" * 101,
    ],
)
def test_cursors_from_slack_are_checked(value: str) -> None:
    assert PendingCursor.decode(value) is None


def test_cursor_round_trip_keeps_microseconds_and_odd_ref_ids() -> None:
    cursor = PendingCursor(T0 + timedelta(microseconds=123456), "a|b`c")
    assert PendingCursor.decode(cursor.encode()) == cursor


def test_time_buckets() -> None:
    window = TimeBuckets.ending(T0, timedelta(hours=24), 24)
    edges = window.edges()
    assert len(edges) == 25
    assert edges[0] == T0 - timedelta(hours=24) and edges[-1] == T0
    assert edges[1] - edges[0] == window.width == timedelta(hours=1)
    with pytest.raises(ValueError, match="bucket"):
        TimeBuckets(T0, T0, 3)


def test_window_stats(store: TransactionStore, read: Read, registry: Registry) -> None:
    window = TimeBuckets(minutes(0), minutes(60), 12)  # 5-minute buckets
    record_all(
        store,
        [
            seen(registry, "before", minutes(-1), "failed", rc="17"),  # outside the window
            seen(registry, "f1", minutes(0), "failed", rc="17"),  # first instant: bucket 0
            seen(registry, "f2", minutes(4.9), "failed", rc="17"),
            seen(registry, "f3", minutes(5), "failed", rc="17"),  # an edge: the later bucket
            seen(registry, "f4", minutes(59.9), "failed", rc="07"),
            seen(registry, "f5", minutes(30), "failed"),  # IAK gave no rc
            seen(registry, "at-end", minutes(60), "failed", rc="07"),  # end is excluded
            seen(registry, "ok", minutes(1), "success"),
            seen(registry, "wait", minutes(2)),
            seen(registry, "odd", minutes(3), "unknown"),
            # started before the window, failed inside it: it belongs to the hour it started
            seen(registry, "late", minutes(-30)),
            seen(registry, "late", minutes(31), "failed", rc="07"),
        ],
    )
    stats = read(window_stats, window)
    assert stats.outcomes == {
        Outcome.SUCCESS: 1,
        Outcome.FAILED: 5,
        Outcome.PENDING: 1,
        Outcome.UNKNOWN: 1,
    }
    assert stats.transactions == 8
    assert stats.failures == {
        "17": [2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        "07": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        None: [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0],
    }
    assert stats.failure_count == 5
    assert stats.top_failures()[0] == ("17", 3)
    assert read(failures_by_bucket, window, rcs=["07"]) == {"07": stats.failures["07"]}


def test_an_empty_window(read: Read) -> None:
    stats = read(window_stats, TimeBuckets.ending(T0, timedelta(days=7), 28))
    assert stats.transactions == 0
    assert stats.failures == {}
    assert stats.top_failures() == []


def test_queries_stay_on_the_indexes(
    database_url: str, store: TransactionStore, read: Read, registry: Registry
) -> None:
    """The statements the reports really send, explained by SQLite (Postgres picks plans by
    table statistics, so a tiny test table proves nothing there)."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's plans are fixed; Postgres's depend on table statistics")
    record_all(store, [seen(registry, f"t{n}", minutes(n)) for n in range(3)])
    sent: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        first = read(pending_page, size=2)
        read(pending_page, after=PendingCursor.at(first.transactions[-1]), size=2)
        read(window_stats, TimeBuckets.ending(minutes(60), timedelta(hours=1), 12))
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    with store.engine.connect() as connection:
        plans = [
            " ".join(
                str(row[-1])
                for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
            )
            for sql, params in sent
        ]
    assert len(plans) == 9  # with the failures a known window expects
    for plan in plans:
        # Every step searches an index; none reads the whole table, however big it grows.
        assert plan.startswith("SEARCH transactions USING") and "SCAN" not in plan, plan
    joined = "\n".join(plans)
    # The window's totals and failures read a range of an index and nothing else.
    covering = (
        "COVERING INDEX ix_transactions_outcome_started_at_covering (outcome=? AND started_at>? AND"
    )
    assert covering in joined, joined
