"""Retention while callbacks arrive (issue 24): what deleting a day of 1,000,000 top-ups
costs the callbacks that come in meanwhile, on Postgres.

A database of its own (created on the Postgres server, dropped at the end) is filled with
generate_series:
- one day of `--rows` final transactions 91 days old, two history rows each: deleted;
- `--blank-rows` final transactions of a day 31 days old, two history rows each: kept, their
  history's customer numbers and serials blanked;
- `--pending` transactions 91 days old still pending: kept.

Then a real `iak-bot serve` (Postgres, its monitor ticking against a fake Slack) takes
signed callbacks, every one a new transaction, paced at `--rate` by wrk in runs of
`--seconds`, in pairs: one run with retention held, the next with it going, until it has
deleted and blanked everything. Retention (`bot.store.retention`, the leader's code, its
batches and rests as configured) runs in this process, held between batches during the
first run of a pair: the two runs of a pair see the same neighbours' load on a shared
machine. (Run by the bot's leader it is the same statements from a thread of the web
process; on Postgres each batch is one statement, so it adds next to nothing to the web
process's own work.)
Reported: callback p99 with retention going against held (ratio), the rows deleted and
blanked and how long that took. Goal: the callbacks' p99 stays under their 50 ms goal.
"""

from __future__ import annotations

import argparse
import atexit
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from benchmarks.callbacks import API_KEY, USERNAME, write_bodies
from benchmarks.common import ROOT, LoadResult, bench_env, free_port, iak_bot, record, serve, wrk
from bot.store.db import create_db_engine, migrate
from bot.store.retention import Retention, RetentionPolicy, RetentionReport

sys.path.insert(0, str(ROOT))
from tests.support.fakes.slack import FakeSlack

SERVER = "postgresql://postgres@127.0.0.1:5432"
DATABASE = "bench_retention"
GOAL_P99_MS = 50.0


def create_database(server: str, name: str) -> str:
    """A new database on the server, dropped when the benchmark exits; returns its URL."""
    admin_url = f"{server}/postgres".replace("postgresql://", "postgresql+psycopg://")

    def run(statement: str) -> None:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(statement))
        finally:
            admin.dispose()

    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run(f'CREATE DATABASE "{name}"')
    atexit.register(run, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return f"{server}/{name}"


def fill(url: str, rows: int, blank_rows: int, pending: int, now: datetime) -> float:
    """The two days and the old pending transactions; returns seconds taken."""
    engine = create_db_engine(url)
    migrate(engine)
    started = time.perf_counter()
    day = 86_400.0
    with engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
        for prefix, age_days, count, final in [
            ("old", 91, rows, True),
            ("month", 31, blank_rows, True),
            ("pending", 91, pending, False),
        ]:
            start = now - timedelta(days=age_days)
            connection.execute(
                text(
                    """
                    INSERT INTO transactions (ref_id, outcome, status, rc, product_code,
                        customer_id, price, tr_id, sn, message, source, started_at,
                        first_seen_at, changed_at, final_at, line, serial, checks, announced)
                    SELECT :prefix || '-' || n,
                        CASE WHEN NOT :final THEN 'pending'
                             WHEN n % 10 = 0 THEN 'failed' ELSE 'success' END,
                        CASE WHEN NOT :final THEN 0 WHEN n % 10 = 0 THEN 2 ELSE 1 END,
                        CASE WHEN NOT :final THEN '39' WHEN n % 10 = 0 THEN '07' ELSE '00' END,
                        'xld25000', '0817' || lpad(n::text, 8, '0'), 25000, n::text,
                        CASE WHEN :final AND n % 10 <> 0 THEN :prefix || lpad(n::text, 16, '0')
                        END,
                        'SUCCESS', 'callback', at, at, at + interval '30 seconds',
                        CASE WHEN :final THEN at + interval '30 seconds' END, 'prepaid',
                        CASE WHEN :final AND n % 10 <> 0 THEN :prefix || lpad(n::text, 16, '0')
                        END,
                        0, false
                    FROM generate_series(1, :count) AS n,
                        LATERAL (SELECT CAST(:start AS timestamptz)
                            + (n * :step) * interval '1 second' AS at) AS t
                    """
                ),
                {
                    "prefix": prefix,
                    "final": final,
                    "count": count,
                    "start": start,
                    "step": day / max(count, 1),
                },
            )
        # two history rows a transaction (pending, then its outcome), in the order they
        # happened, as the bot writes them
        connection.execute(
            text(
                """
                INSERT INTO transaction_events (ref_id, fingerprint, source, observed_at,
                    outcome, status, rc, balance, applied, data)
                SELECT t.ref_id, md5(t.ref_id || ':' || k), 'callback',
                    t.started_at + (k - 1) * interval '30 seconds',
                    CASE WHEN k = 1 THEN 'pending' ELSE t.outcome END,
                    CASE WHEN k = 1 THEN 0 ELSE t.status END,
                    CASE WHEN k = 1 THEN '39' ELSE t.rc END, 1000000000, true,
                    json_build_object('balance', 1000000000, 'customer_id', t.customer_id,
                        'message', t.message, 'price', t.price, 'product_code',
                        t.product_code, 'rc', t.rc, 'ref_id', t.ref_id, 'sn', t.sn,
                        'status', t.status, 'tr_id', t.tr_id)
                FROM transactions t, generate_series(1, 2) AS k
                WHERE t.outcome <> 'pending' OR k = 1
                ORDER BY t.started_at, k
                """
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE transactions")
        connection.exec_driver_sql("VACUUM ANALYZE transaction_events")
    engine.dispose()
    return time.perf_counter() - started


def counts(url: str, now: datetime) -> dict[str, int]:
    engine = create_db_engine(url)
    with engine.connect() as connection:
        found = {
            "transactions": connection.scalar(text("SELECT count(*) FROM transactions")),
            "history": connection.scalar(text("SELECT count(*) FROM transaction_events")),
            "history with a customer number": connection.scalar(
                text(
                    "SELECT count(*) FROM transaction_events WHERE data->>'customer_id' IS NOT NULL"
                )
            ),
            "pending": connection.scalar(
                text("SELECT count(*) FROM transactions WHERE outcome = 'pending'")
            ),
        }
    engine.dispose()
    return {name: int(value or 0) for name, value in found.items()}


def paced(url: str, bodies: Path, rate: float, seconds: float, offset: float) -> LoadResult:
    """One wrk run, every callback a new transaction: a body file of its own (wrk starts
    each run at the top of its file, and a repeat would be a duplicate, not a write)."""
    global _runs
    _runs += 1
    bodies = bodies.with_name(f"run{_runs}.jsonl")
    write_bodies(bodies, int(rate * (seconds + 1) * 1.5), f"{bodies.stem}-{_runs}")
    return wrk(
        url + "/iak/callback",
        bodies=bodies,
        headers={"Content-Type": "application/json"},
        connections=20,
        seconds=seconds,
        rate=rate,
        pause_offset_ms=offset,
    )


_runs = 0


@dataclass
class Rounds:
    """Paced callback runs in turn without retention (baseline) and with it."""

    baseline: list[LoadResult] = field(default_factory=list)
    deleting: list[LoadResult] = field(default_factory=list)
    # seconds retention was let run, until it finished
    took: float = 0.0
    report: RetentionReport | None = None


def rounds(
    url: str, now: datetime, bodies: Path, rate: float, seconds: float, held: float
) -> Rounds:
    """A real `iak-bot serve` (its monitor ticking) takes paced callbacks in runs of
    `seconds`, in turn: a run with retention held, a run with it going, until it has
    deleted and blanked everything; the runs of a pair see the same neighbours' load."""
    found = Rounds()
    allowed = threading.Event()
    finished = threading.Event()
    outcome: list[RetentionReport | BaseException] = []

    def keep_going() -> bool:
        allowed.wait()  # held between batches while a baseline run is measured
        return True

    def retain() -> None:
        engine = create_db_engine(url)
        try:
            policy = RetentionPolicy.of_days(90)
            assert policy is not None
            outcome.append(Retention(engine, policy).run(now, keep_going))
        except BaseException as exc:
            outcome.append(exc)
        finally:
            engine.dispose()
            finished.set()

    with FakeSlack() as slack:
        port = free_port()
        env = bench_env(
            PORT=str(port),
            DATABASE_URL=url,
            IAK_USERNAME=USERNAME,
            IAK_API_KEY=API_KEY,
            SLACK_API_URL=slack.api_url,
            OPS_CHANNEL="C0BENCH",
            MONITOR_ENABLED="true",
            MONITOR_INTERVAL_SECONDS="5",
            # the bot's own leader deletes nothing: this process runs retention, in turns
            RETENTION_DAYS="0",
        )
        with serve(iak_bot("serve"), env, port) as bot:
            # calibrate the pacing once (a connection's own latency shortens its pause)
            probe = paced(bot.url, bodies, rate, 3, 2.0)
            offset = 2.0 + (20 / max(probe.requests_per_second, 1) * 1000 - 20 / rate * 1000)
            worker = threading.Thread(target=retain, daemon=True)
            worker.start()
            while not finished.is_set():
                found.baseline.append(paced(bot.url, bodies, rate, held, offset))
                allowed.set()
                started = time.monotonic()
                found.deleting.append(paced(bot.url, bodies, rate, seconds, offset))
                allowed.clear()
                found.took += (
                    time.monotonic() - started
                    if not finished.is_set()
                    else seconds  # an upper bound: it finished during this run
                )
            worker.join()
    [result] = outcome
    if isinstance(result, BaseException):
        raise result
    found.report = result
    return found


def report(
    server: str,
    rows: int,
    blank_rows: int,
    pending: int,
    rate: float,
    seconds: float,
    held: float,
) -> list[str]:
    now = datetime.now(UTC)
    url = create_database(server, DATABASE)
    lines = [
        f"Retention on Postgres: a day of {rows:,} final transactions 91 days old (deleted, "
        f"with {2 * rows:,} history rows), a day of {blank_rows:,} 31 days old (kept, their "
        f"{2 * blank_rows:,} history rows blanked), {pending:,} old pending (kept); callbacks "
        f"paced at {rate:.0f}/s by 20 connections, in pairs of runs: {held:.0f} s with "
        f"retention held, then {seconds:.0f} s with it going"
    ]
    lines.append(
        f"  filled in {fill(url, rows, blank_rows, pending, now):.0f} s: {counts(url, now)}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        found = rounds(url, now, Path(tmp) / "bodies.jsonl", rate, seconds, held)
    after = counts(url, now)
    done = found.report
    assert done is not None
    base = [load.p99_ms for load in found.baseline]
    during = [load.p99_ms for load in found.deleting]
    base_median, typical = statistics.median(base), statistics.median(during)
    base_worst, worst = max(base), max(during)
    errors = sum(load.errors for load in found.deleting)
    met = typical < GOAL_P99_MS and errors == 0
    lines += [
        "  p99 per pair of runs (held / going): "
        + ", ".join(f"{a:.0f}/{b:.0f}" for a, b in zip(base, during, strict=True))
        + " ms",
        f"  retention: {done.summary()}; {done.deleted + done.blanked:,} rows in about "
        f"{found.took:.0f} s of going ({(done.deleted + done.blanked) / max(found.took, 1):,.0f}"
        " rows/s)",
        f"  after: {after}",
        f"  callback p99 while deleting: median run {typical:.1f} ms vs {base_median:.1f} ms "
        f"held (ratio {typical / base_median:.2f}); worst run {worst:.1f} ms vs {base_worst:.1f}"
        f" ms (ratio {worst / base_worst:.2f}); errors {errors}; goal: median run < "
        f"{GOAL_P99_MS:.0f} ms: " + ("met" if met else "NOT met"),
    ]
    record(
        f"callback p99 at {rate:.0f}/s while retention deletes a day of {rows:,} "
        "transactions, Postgres",
        f"median run {typical:.1f} ms, worst {worst:.1f} ms (held: {base_median:.1f}, worst "
        f"{base_worst:.1f}); {done.deleted + done.blanked:,} rows in {found.took:.0f} s; "
        f"errors {errors}",
        f"< {GOAL_P99_MS:.0f} ms, no error",
        met,
        f"{typical / base_median:.2f} (median runs), {worst / base_worst:.2f} (worst runs)",
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="transactions a day")
    parser.add_argument(
        "--blank-rows", type=int, default=200_000, help="transactions of the day to blank"
    )
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=500, help="callbacks/s")
    parser.add_argument("--seconds", type=float, default=10, help="a run, retention going")
    parser.add_argument("--held", type=float, default=5, help="a run, retention held")
    parser.add_argument("--server", default=SERVER, help="Postgres server URL, no database")
    args = parser.parse_args()
    for line in report(
        args.server,
        args.rows,
        args.blank_rows,
        args.pending,
        args.rate,
        args.seconds,
        args.held,
    ):
        print(line, flush=True)


if __name__ == "__main__":
    main()
