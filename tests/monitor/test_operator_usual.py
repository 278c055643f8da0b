"""An operator's usual, read from the database an hour at a time and kept: each hour once,
as its products' final top-ups without the customer's failures, the hours leaving the week
dropped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from bot.incidents.finals import Tally, UsualHours, earliest_final, final_counts, read_hour
from bot.incidents.kinds.operator import customer_codes
from bot.registry import Registry
from bot.store.db import create_db_engine
from bot.store.schema import transactions

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
WINDOW_START = NOW - timedelta(minutes=15)
CUSTOMERS = customer_codes(Registry.load())


def topup(n: int, at: datetime, outcome: str, rc: str, product: str = "tsel25") -> dict[str, Any]:
    final = None if outcome == "pending" else at + timedelta(seconds=12)
    return {
        "ref_id": f"usual-{n}",
        "outcome": outcome,
        "status": {"success": 1, "failed": 2}.get(outcome, 0),
        "rc": rc,
        "product_code": product,
        "customer_id": "0812345000",
        "source": "callback",
        "started_at": at,
        "first_seen_at": at,
        "changed_at": final or at,
        "final_at": final,
    }


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    rows = []
    # 01:20 to 11:20 today, each hour: 3 successes, one failure of the operator (07) and one
    # of the customer's (14, a wrong number); one still pending
    for h in range(11):
        at = NOW.replace(hour=1, minute=20) + timedelta(hours=h)
        for outcome, rc in [("success", "00")] * 3 + [("failed", "07"), ("failed", "14")]:
            rows.append(topup(len(rows), at, outcome, rc))
        rows.append(topup(len(rows), at, "pending", "39"))
    # a week ago, in the first hour of the week, and before it
    rows.append(topup(len(rows), NOW - timedelta(days=7) + timedelta(minutes=20), "success", "00"))
    rows.append(topup(len(rows), NOW - timedelta(days=8), "failed", "07"))
    with engine.begin() as connection:
        connection.execute(insert(transactions), rows)
    yield engine
    engine.dispose()


def test_an_hour_is_read_as_its_products_final_top_ups_without_the_customers_failures(
    engine: Engine,
) -> None:
    with engine.connect() as connection:
        ten = read_hour(connection, NOW.replace(hour=10), CUSTOMERS)
        eleven = read_hour(connection, NOW.replace(hour=11), CUSTOMERS)
        quiet = read_hour(connection, NOW - timedelta(days=3), CUSTOMERS)
        # the oldest final top-up in the week: the one at 12:20 a week ago
        earliest = earliest_final(connection, NOW - timedelta(days=7))
        assert earliest_final(connection, NOW) is None
    # 3 successes and the operator's failure (07); the wrong number (14) and the pending
    # one are not counted
    assert {code: (t.final, t.failed) for code, t in ten.items()} == {"tsel25": (4, 1)}
    assert ten["tsel25"].median_seconds() == pytest.approx(12.5)
    assert {code: (t.final, t.failed) for code, t in eleven.items()} == {"tsel25": (4, 1)}
    assert quiet == {}
    assert earliest == NOW - timedelta(days=7) + timedelta(minutes=20)


def tallies(final: int, failed: int) -> dict[str, Tally]:
    tally = Tally()
    tally.add("success", 2, final - failed)
    tally.add("failed", 2, failed)
    return {"tsel25": tally}


def test_the_usual_keeps_each_hour_once_and_drops_the_ones_leaving_the_week() -> None:
    hours = UsualHours()
    # the window starts 11:45: 11:00 has not settled; 10:00 is the newest hour of the usual
    missing = hours.missing(WINDOW_START)
    assert missing[0] == NOW.replace(hour=10) and len(missing) == 167
    assert missing[-1] == NOW - timedelta(days=7)  # 12:00 a week ago, the oldest
    assert hours.usual(WINDOW_START) == {} and not hours.complete
    hours.add(NOW.replace(hour=10), tallies(4, 1), WINDOW_START)
    hours.add(NOW.replace(hour=10), tallies(4, 1), WINDOW_START)  # read twice: kept once
    hours.add(NOW.replace(hour=11), tallies(9, 9), WINDOW_START)  # not settled: not kept
    assert hours.total["tsel25"].final == 4
    for hour in missing[1:]:
        hours.add(hour, tallies(2, 0) if hour == missing[-1] else {}, WINDOW_START)
    usual = hours.usual(WINDOW_START)
    assert hours.complete and (usual["tsel25"].final, usual["tsel25"].failed) == (6, 1)
    # an hour later, 11:00 is missing, and 12:00 a week ago has left the week
    later = WINDOW_START + timedelta(hours=1)
    usual = hours.usual(later)
    assert not hours.complete and hours.missing(later) == [NOW.replace(hour=11)]
    assert (usual["tsel25"].final, usual["tsel25"].failed) == (4, 1)
    hours.add(NOW.replace(hour=11), tallies(4, 2), later)
    usual = hours.usual(later)
    assert hours.complete and (usual["tsel25"].final, usual["tsel25"].failed) == (8, 3)
    assert len(hours.hours) == 167


def test_times_to_final_are_counted_in_their_buckets_up_to_each_edge(database_url: str) -> None:
    # Edges at 5, 10, 15, ... 3600, 7200 s: a time on an edge counts in the bucket above it,
    # past the last edge in the last bucket (on Postgres width_bucket, on SQLite a CASE).
    engine = create_db_engine(database_url)
    seconds = [0, 4.9, 5, 9.99, 10, 7199, 7200, 90_000]
    rows = []
    for n, took in enumerate(seconds):
        row = topup(n, NOW - timedelta(hours=2), "success", "00")
        rows.append({**row, "final_at": row["started_at"] + timedelta(seconds=took)})
    try:
        with engine.begin() as connection:
            connection.execute(insert(transactions), rows)
        with engine.connect() as connection:
            counts = final_counts(connection, NOW - timedelta(hours=3), NOW)
    finally:
        engine.dispose()
    buckets = sorted(bucket for (_, _, _, bucket), n in counts.items() for _ in range(n))
    assert buckets == [0, 0, 1, 1, 2, 19, 20, 20]
