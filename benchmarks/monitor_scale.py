"""The monitor at a large reseller's size (issue 24): 1,000,000 top-ups a day, on Postgres.

`--rows` transactions (default 10,000,000: ten days) spread over `--days`, `--pending` of
them still pending, 10% failed, the rest succeeded with a serial number each (one in 20,000
repeating an earlier one), a third with the backend's own created_at, as
benchmarks/monitor_queries.py lays them out; the last `--history-days` days have their two
history rows each. Filled with generate_series into a database of its own (created on the
server, dropped at the end), the indexes built after the rows, then VACUUM ANALYZE (what
autovacuum keeps up on a live database).

Measured, as monitor_queries.py and monitor_tick.py do at 1,000,000 rows: each monitor
query (goal < 50 ms); the ticks of every kind's watch (goal < 200 ms) while the monitor
reads its hours beside them (how long that takes), and steady after, with what each watch
takes of a steady tick; and an hourly retention run with nothing to delete (index probes
only). Printed: the plans of the heaviest reads, to say what holds at 90,000,000 rows (they
read the rows of a window, not the table).
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy import Engine, text

from benchmarks.common import record
from benchmarks.monitor_queries import FAIL_RCS, NOW, timed_checks
from benchmarks.monitor_tick import tick_cost
from benchmarks.retention import SERVER, create_database
from bot.store.db import create_db_engine, migrate
from bot.store.retention import Retention, RetentionPolicy

DATABASE = "bench_retention_scale"


def fill(engine: Engine, total: int, days: int, pending: int, history_days: float) -> float:
    """The rows, then the indexes (built once, as a restore would), then statistics."""
    started = time.perf_counter()
    with engine.begin() as connection:
        indexes = [
            (name, definition)
            for name, definition in connection.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = "
                    "current_schema() AND tablename IN ('transactions', 'transaction_events') "
                    "AND indexname NOT LIKE 'pk_%' AND indexname NOT LIKE 'uq_%'"
                )
            )
        ]
        for name, _ in indexes:
            connection.execute(text(f'DROP INDEX "{name}"'))
        connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
        connection.execute(text("SELECT setseed(0.7)"))
        connection.execute(
            text(
                """
                INSERT INTO transactions (ref_id, outcome, status, rc, product_code,
                    customer_id, price, tr_id, sn, message, source, created_at, started_at,
                    first_seen_at, changed_at, final_at, line, serial, checks, announced)
                SELECT 'bench-' || lpad(v.n::text, 9, '0'), v.outcome, NULL, v.rc, 'xld25000',
                    '0817777215', 25000, v.n::text, v.serial, NULL, 'callback', v.created,
                    coalesce(v.created, v.seen), v.seen, coalesce(v.final, v.seen), v.final,
                    'prepaid', v.serial, 0, false
                FROM (
                    SELECT n, r.seen,
                        CASE WHEN n % 3 = 0 THEN r.seen - r.late * interval '1 hour'
                        END AS created,
                        CASE WHEN n <= :pending THEN 'pending'
                             WHEN r.roll < 0.10 THEN 'failed' ELSE 'success' END AS outcome,
                        CASE WHEN n <= :pending THEN '39'
                             WHEN r.roll < 0.10 THEN (CAST(:rcs AS text[]))[1 + (n % 10)]
                             ELSE '00' END AS rc,
                        CASE WHEN n <= :pending THEN NULL
                             ELSE r.seen + r.late * interval '30 seconds' END AS final,
                        CASE WHEN n > :pending AND r.roll >= 0.10 THEN lpad(
                            (CASE WHEN n % 20000 = 0 THEN n - 7 ELSE n END)::text, 12, '0')
                        END AS serial
                    FROM (
                        -- random() per row: in a subquery's select list it is evaluated for
                        -- each row (an uncorrelated LATERAL would be evaluated once)
                        SELECT n, CAST(:now AS timestamptz)
                                - random() * :span * interval '1 second' AS seen,
                            random() AS roll, random() AS late
                        FROM generate_series(1, :total) AS n
                    ) AS r
                ) AS v
                """
            ),
            {
                "total": total,
                "pending": pending,
                "now": NOW,
                "span": days * 86_400,
                "rcs": FAIL_RCS,
            },
        )
        connection.execute(
            text(
                """
                INSERT INTO transaction_events (ref_id, fingerprint, source, observed_at,
                    outcome, status, rc, balance, applied, data)
                SELECT t.ref_id, md5(t.ref_id || ':' || k), 'callback',
                    CASE WHEN k = 1 THEN t.first_seen_at ELSE t.changed_at END,
                    CASE WHEN k = 1 THEN 'pending' ELSE t.outcome END, NULL,
                    CASE WHEN k = 1 THEN '39' ELSE t.rc END, 1000000000, true,
                    json_build_object('customer_id', t.customer_id, 'ref_id', t.ref_id,
                        'rc', t.rc, 'sn', t.sn)
                FROM transactions t, generate_series(1, 2) AS k
                WHERE t.first_seen_at >= CAST(:now AS timestamptz) - :since * interval '1 second'
                    AND (k = 1 OR t.outcome <> 'pending')
                ORDER BY 4
                """
            ),
            {"now": NOW, "since": history_days * 86_400},
        )
        for _, definition in indexes:
            connection.execute(text(definition))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE transactions")
        connection.exec_driver_sql("VACUUM ANALYZE transaction_events")
    return time.perf_counter() - started


def plans(engine: Engine) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the tick's heaviest reads and retention's batch select,
    summarised to their top nodes."""
    aged = NOW.isoformat()
    statements = {
        "retention: next batch of old final transactions": (
            "SELECT ref_id, started_at FROM transactions WHERE outcome = 'success' AND "
            f"started_at < timestamptz '{aged}' - interval '90 days' ORDER BY started_at "
            "LIMIT 1000 FOR UPDATE SKIP LOCKED"
        ),
        "retention: next batch of history to blank": (
            "SELECT max(id), count(*) FROM (SELECT id, observed_at FROM transaction_events "
            "WHERE id > 0 ORDER BY id LIMIT 1000) b"
        ),
        "failures the kept hours leave, the day's later edge (75 min)": (
            "SELECT line, rc, product_code, count(*) FROM transactions WHERE outcome = "
            f"'failed' AND started_at >= timestamptz '{aged}' - interval '80 minutes' AND "
            f"started_at < timestamptz '{aged}' - interval '5 minutes' "
            "GROUP BY line, rc, product_code"
        ),
        "kept hours with a failure changed since the last tick": (
            "SELECT t.started_at FROM transaction_events e JOIN transactions t ON t.ref_id "
            f"= e.ref_id WHERE e.observed_at >= timestamptz '{aged}' - interval '38 seconds' "
            "AND (e.outcome = 'failed' OR e.source = 'status_check') AND e.applied AND "
            f"t.started_at >= timestamptz '{aged}' - interval '1 day' AND t.started_at < "
            f"timestamptz '{aged}' - interval '1 hour'"
        ),
        "serials delivered twice, a chunk of 500 probed": (
            "SELECT serial FROM transactions WHERE serial IS NOT NULL AND serial IN ({}) "
            "GROUP BY serial HAVING count(*) > 1"
        ),
    }
    lines = []
    with engine.begin() as connection:
        recent = connection.execute(
            text(
                "SELECT serial FROM transactions WHERE serial IS NOT NULL AND final_at >= "
                f"timestamptz '{aged}' - interval '2 minutes' ORDER BY final_at LIMIT 500"
            )
        ).scalars()
        # the benchmark's serial numbers are digits: safe to write into the statement
        chunk = ", ".join(f"'{int(serial):012d}'" for serial in recent)
        name = "serials delivered twice, a chunk of 500 probed"
        statements[name] = statements[name].format(chunk)
        for name, sql in statements.items():
            plan = [row[0] for row in connection.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"))]
            lines.append(f"  plan, {name}:")
            lines += [f"    {line}" for line in plan[:6]]
    return lines


def report(server: str, total: int, days: int, pending: int, history_days: float) -> list[str]:
    url = create_database(server, DATABASE)
    engine = create_db_engine(url)
    migrate(engine)
    lines = [
        f"Monitor at {total:,} transactions over {days} days ({pending:,} pending), history "
        f"for the last {history_days:g} day(s), Postgres"
    ]
    lines.append(
        f"  filled and indexed in {fill(engine, total, days, pending, history_days):.0f} s"
    )
    lines += timed_checks(engine, total, NOW)
    started = time.perf_counter()
    policy = RetentionPolicy.of_days(90)
    assert policy is not None
    idle = Retention(engine, policy).run(NOW)
    took = (time.perf_counter() - started) * 1000
    lines.append(f"  retention run with nothing to delete: {took:.0f} ms ({idle.summary()})")
    record(
        f"retention run with nothing to delete at {total:,} rows, Postgres",
        f"{took:.0f} ms",
    )
    lines += plans(engine)
    engine.dispose()
    lines += tick_cost(url, total, pending, per_second=total / (days * 86_400), loaded=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--history-days", type=float, default=1.0)
    parser.add_argument("--server", default=SERVER, help="Postgres server URL, no database")
    args = parser.parse_args()
    for line in report(args.server, args.rows, args.days, args.pending, args.history_days):
        print(line, flush=True)


if __name__ == "__main__":
    main()
