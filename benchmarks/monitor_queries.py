"""The monitor's questions with 1,000,000 transactions stored (10,000 of them pending):
"which pending transactions are older than T", "how many failures per rc since T" and
"which are due a re-check", "which serial numbers were delivered twice", on SQLite and
Postgres. Goal (issue 4): each under 50 ms.

A transaction's time is when it happened (`started_at`: the backend's created_at when it
sent one, else when the bot first heard of it; issue 16): a third of the rows here carry a
created_at up to an hour before the bot saw them, as an import of history would.

Every success carries its own serial number, but one in 20,000 repeats an earlier one (the
same voucher or token delivered twice).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from benchmarks.callbacks import POSTGRES_URL, fresh_postgres_schema
from benchmarks.common import record
from bot.incidents.config import MonitorConfig
from bot.incidents.kinds import pending as pending_kind
from bot.incidents.kinds import serial
from bot.incidents.kinds.serial import serials_checked_until, serials_since
from bot.incidents.rechecks import due_rechecks
from bot.store.db import create_db_engine, migrate
from bot.store.reports import failures_by_rc
from bot.store.schema import transactions

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
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
    connection: Connection, since: datetime, probed: dict[str, str] | None = None
) -> object:
    """One tick's look for serial numbers delivered twice, as the monitor makes it (`probed`:
    what an earlier tick probed)."""
    read = serial.recent_deliveries(connection, since, serial.SERIAL_SCAN_PER_TICK)
    look = serial.plan_look(
        read, probed or {}, serial.SERIAL_SCAN_PER_TICK, serial.probes_per_tick(CONFIG.interval)
    )
    repeated = serial.repeated_serials(connection, (d.serial for d in look.fresh))
    found, _ = serial.repeats_to_tell(look, repeated)
    return serial.serial_snapshots(connection, found, {})


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
    window = now - timedelta(minutes=5)
    day = now - timedelta(hours=24)

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
        "failures per rc, previous 24 h": on_connection(
            lambda c: failures_by_rc(c, day - timedelta(minutes=5), window)
        ),
        "due a re-check at IAK: 50 most overdue": on_connection(
            lambda c: due_rechecks(c, now, CONFIG, 50)
        ),
        "serials delivered twice, since the last tick": on_connection(
            lambda c: serial_tick(
                c, serials_since(serials_checked_until(None, now - CONFIG.interval), now)
            )
        ),
        "serials delivered twice, first tick (24 h back, one chunk)": on_connection(
            lambda c: serial_tick(c, serials_since(None, now))
        ),
    }


def timed_checks(engine: Engine, total: int, now: datetime) -> list[str]:
    """Time each of the monitor's questions; record and return the lines."""
    lines = []
    backend = "SQLite" if engine.dialect.name == "sqlite" else "Postgres"
    for name, query in checks(engine, now).items():
        median, worst = timed(query)
        verdict = "ok" if worst < 50 else "OVER 50 ms"
        record(
            f"monitor query at {total:,} rows, {backend}: {name}",
            f"median {median:.1f} ms, max {worst:.1f} ms",
            "< 50 ms",
            worst < 50,
        )
        lines.append(f"  {name:<42} median {median:7.2f} ms   max {worst:7.2f} ms   {verdict}")
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
