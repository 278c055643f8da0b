"""The monitor's questions with 1,000,000 transactions stored (10,000 of them pending), as
it asks them, on SQLite and Postgres. Goal (issue 4): each under 50 ms.

In a tick: which pending transactions are older than T; failures per rc in the window; the
day's failures the kept hours do not cover (a tick at NOW reads them at their longest, 2
hours: 45 minutes at the start of the day, 75 before the window) and the changes to kept
hours since the last tick; the final top-ups of operator health's window; which serial
numbers a tick's new successes delivered twice (and a new leader's first tick, a day
back). Beside the ticks, once an hour each: an hour of failures, an hour of operator
health's usual. While no hour is kept yet (a new leader's first tick): the whole day of
failures. And which pending transactions are due a re-check (beside the ticks too).

A transaction's time is when it happened (`started_at`: the backend's created_at when it
sent one, else when the bot first heard of it; issue 16): a third of the rows here carry a
created_at up to an hour before the bot saw them, as an import of history would.

Every success carries its own serial number, but one in 20,000 repeats an earlier one (the
same voucher or token delivered twice).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from benchmarks.callbacks import POSTGRES_URL, fresh_postgres_schema
from benchmarks.common import record
from bot.incidents.config import MonitorConfig
from bot.incidents.failures import (
    BASELINE_SPAN,
    LATE_COMMIT,
    DayOfFailures,
    changed_hours,
    failure_counts,
    hour_counts,
)
from bot.incidents.finals import final_counts, read_hour
from bot.incidents.kinds import deposit, serial
from bot.incidents.kinds import pending as pending_kind
from bot.incidents.kinds.operator import customer_codes
from bot.incidents.kinds.serial import serials_checked_until, serials_since
from bot.incidents.rechecks import due_rechecks
from bot.registry import Registry
from bot.store.db import create_db_engine, migrate
from bot.store.reports import failures_by_rc
from bot.store.schema import transactions

# 12:20: the window starts at 12:15, and the edges the kept hours leave are at their
# longest (11:00 to 12:15, and the 45 minutes from 12:15 a day ago)
NOW = datetime(2026, 11, 28, 12, 20, tzinfo=UTC)
CONFIG = MonitorConfig(
    interval=timedelta(seconds=30),
    age_out=timedelta(minutes=15),
    spike_window=timedelta(minutes=5),
    spike_min_failures=10,
    spike_factor=3,
    low_balance_threshold=None,
)
FAIL_RCS = ["07", "17", "14", "16", "06", "106", "110", "102", "13", "20"]


def rows(total: int, pending: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """A week of transactions: `pending` still pending, 10% failed, the rest succeeded."""
    rng = random.Random(seed)
    week = 7 * 24 * 3600
    for n in range(total):
        seen = NOW - timedelta(seconds=rng.random() * week)
        created = seen - timedelta(seconds=rng.random() * 3600) if n % 3 == 0 else None
        if n < pending:
            outcome, rc, final = "pending", "39", None
        elif rng.random() < 0.10:
            outcome, rc = "failed", rng.choice(FAIL_RCS)
            final = seen + timedelta(seconds=rng.random() * 60)
        else:
            outcome, rc, final = "success", "00", seen + timedelta(seconds=rng.random() * 30)
        serial = None
        if outcome == "success":
            serial = f"{(n - 7 if n % 20_000 == 0 else n):012d}"
        yield {
            "ref_id": f"bench-{n:07d}",
            "outcome": outcome,
            "status": None,
            "rc": rc,
            "product_code": "xld25000",
            "customer_id": "0817777215",
            "price": 25000,
            "balance": None,
            "tr_id": str(n),
            "sn": serial,
            "message": None,
            "source": "callback",
            "created_at": created,
            "started_at": created or seen,
            "first_seen_at": seen,
            "changed_at": final or seen,
            "final_at": final,
            "serial": serial,
        }


def load(engine: Engine, total: int, pending: int) -> float:
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []
    with engine.begin() as connection:
        for row in rows(total, pending):
            batch.append(row)
            if len(batch) == 20_000:
                connection.execute(insert(transactions), batch)
                batch = []
        if batch:
            connection.execute(insert(transactions), batch)
        # Postgres's autovacuum keeps table statistics; the bot never runs ANALYZE on
        # SQLite, whose planner then goes by the indexes alone: measure each as it runs.
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE transactions")
    return time.perf_counter() - started


def serial_tick(
    connection: Connection, since: datetime, probed: dict[serial.Delivery, int] | None = None
) -> object:
    """One tick's look for serial numbers delivered twice, as the monitor makes it (`probed`:
    what the ticks before probed)."""
    probes = serial.probes_per_tick(CONFIG.interval)
    found, _ = serial.look_for_repeats(connection, since, probed or {}, probes)
    return serial.serial_snapshots(connection, found, {})


def probed_before(engine: Engine, now: datetime) -> dict[serial.Delivery, int]:
    """What the tick one interval before `now` had probed: every success since its own look
    began (a margin before the tick before it) up to its time."""
    before = now - CONFIG.interval
    since = serials_since(serials_checked_until(None, before - CONFIG.interval), before)
    with engine.connect() as connection:
        read = serial.recent_deliveries(connection, since, serial.SERIAL_SCAN_PER_TICK)
    return dict(Counter(d for d in read if d.final_at <= before))


def timed(query: Callable[[], Any], runs: int = 20) -> tuple[float, float]:
    query()  # warm the cache, as a running monitor's would be
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        query()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def measure(url: str, total: int, pending: int) -> list[str]:
    engine = create_db_engine(url)
    migrate(engine)
    seconds = load(engine, total, pending)
    lines = [f"  loaded {total:,} rows in {seconds:.0f} s"]
    lines += timed_checks(engine, total, NOW)
    engine.dispose()
    return lines


def checks(engine: Engine, now: datetime) -> dict[str, Callable[[], object]]:
    """The monitor's questions at `now`, each a function that asks it once."""
    aged = now - timedelta(minutes=15)
    window = now - CONFIG.spike_window
    first, last = DayOfFailures().span(window)
    edges = [(window - BASELINE_SPAN, first), (last, window)]
    newest_settled = last - timedelta(hours=1)
    customers = customer_codes(Registry.load())
    probed = probed_before(engine, now)

    def on_connection(query: Callable[[Connection], object]) -> Callable[[], object]:
        def run() -> object:
            with engine.connect() as connection:
                return query(connection)

        return run

    not_final = transactions.c.outcome.in_(("pending", "unknown"))
    return {
        "pending older than 15 min: how many": on_connection(
            lambda c: c.execute(
                select(func.count()).where(not_final, transactions.c.started_at < aged)
            ).scalar_one()
        ),
        "pending older than 15 min: oldest 1000 (monitor)": on_connection(
            lambda c: pending_kind.aged_out(c, aged, 1000)
        ),
        "failures per rc, last 5 min": on_connection(lambda c: failures_by_rc(c, window)),
        "failures the kept hours leave, the day's two edges (2 h)": on_connection(
            lambda c: [failure_counts(c, start, end) for start, end in edges]
        ),
        "kept hours with a failure changed since the last tick": on_connection(
            lambda c: changed_hours(c, now - CONFIG.interval - LATE_COMMIT, first, last)
        ),
        "final top-ups per product in the window (operator health)": on_connection(
            lambda c: final_counts(c, now - timedelta(minutes=15), now + timedelta(seconds=1))
        ),
        "serials delivered twice, since the last tick": on_connection(
            lambda c: serial_tick(c, now - CONFIG.interval - serial.SERIAL_MARGIN, probed)
        ),
        "serials delivered twice, first tick (24 h back, one chunk)": on_connection(
            lambda c: serial_tick(c, serials_since(None, now))
        ),
        "failures of the day, whole (in a tick if the reads before it fail)": on_connection(
            lambda c: failure_counts(c, window - BASELINE_SPAN, window)
        ),
        "failures of one hour (beside the ticks, once)": on_connection(
            lambda c: hour_counts(c, newest_settled)
        ),
        "final top-ups of one hour (operator health, beside the ticks, once)": on_connection(
            lambda c: read_hour(c, newest_settled, customers)
        ),
        "due a re-check at IAK: 50 most overdue": on_connection(
            lambda c: due_rechecks(c, now, CONFIG, 50)
        ),
        # only while the deposit is low or its incident open
        f"deposit spend rate: the hour's newest {deposit.SPEND_READINGS:,} balances": on_connection(
            lambda c: deposit.reading(c, now)
        ),
    }


def timed_checks(engine: Engine, total: int, now: datetime) -> list[str]:
    """Time each of the monitor's questions; record and return the lines."""
    lines = []
    backend = "SQLite" if engine.dialect.name == "sqlite" else "Postgres"
    asked = checks(engine, now)
    # as the bot does once it has started (bot.app.Bot.start): what lives as long as the
    # process is left out of full collections, whose pauses would be timed as the query's
    gc.collect()
    gc.freeze()
    for name, query in asked.items():
        median, worst = timed(query)
        verdict = "ok" if worst < 50 else "OVER 50 ms"
        record(
            f"monitor query at {total:,} rows, {backend}: {name}",
            f"median {median:.1f} ms, max {worst:.1f} ms",
            "< 50 ms",
            worst < 50,
        )
        lines.append(f"  {name:<66} median {median:7.2f} ms   max {worst:7.2f} ms   {verdict}")
    return lines


def report(total: int, pending: int, postgres: str) -> list[str]:
    lines = [f"Monitor queries, {total:,} transactions stored, {pending:,} pending"]
    with tempfile.TemporaryDirectory() as tmp:
        lines.append("SQLite:")
        lines += measure(f"sqlite:///{tmp}/monitor.db", total, pending)
    if postgres:
        lines.append("Postgres:")
        lines += measure(fresh_postgres_schema(postgres), total, pending)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--postgres", default=POSTGRES_URL)
    args = parser.parse_args()
    for line in report(args.rows, args.pending, args.postgres):
        print(line)


if __name__ == "__main__":
    main()
