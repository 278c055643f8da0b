"""IAK callback throughput and latency at 50 concurrent senders, on SQLite and Postgres,
against a bare FastAPI route that answers 200 without work (the floor), same run.

Every request carries a different ref_id with its own valid sign, so every one is a real
write (no duplicate shortcuts); "stored/s" counts rows in the database afterwards.
Two loads per database: saturation (every connection sends as fast as answers come: the
throughput ceiling and its ratio to the floor) and paced at 1,000 callbacks/s (the latency a
sender sees at the goal's rate).
Goals (issue 4, raised by issue 13): >= 1,500 stored callbacks/s and >= 0.5 of the floor
saturated on SQLite; p99 < 50 ms paced at 1,000/s on SQLite and Postgres.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.common import (
    ROOT,
    LoadResult,
    baseline_app,
    bench_env,
    free_port,
    iak_bot,
    median_round,
    record,
    serve,
    wrk,
    wrk_at_rate,
)
from bot.store.db import create_db_engine, migrate
from bot.store.schema import transactions

USERNAME = "082210138584"
API_KEY = "bench-iak-api-key"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
# Stored callbacks per second, saturated, on SQLite.
GOAL_STORED = 1500


def write_bodies(path: Path, count: int, prefix: str) -> None:
    """`count` distinct signed callbacks, one JSON document per line."""
    with path.open("w") as out:
        for n in range(count):
            ref_id = f"{prefix}-{n}"
            sign = hashlib.md5(f"{USERNAME}{API_KEY}{ref_id}".encode()).hexdigest()
            data = {
                "ref_id": ref_id,
                "status": "1" if n % 10 else "2",
                "product_code": "xld25000",
                "customer_id": "0817777215",
                "price": "25000",
                "message": "SUCCESS" if n % 10 else "FAILED",
                "sn": "123456789",
                "balance": str(997061249 - n * 25000),
                "tr_id": str(n),
                "rc": "00" if n % 10 else "07",
                "sign": sign,
            }
            out.write(json.dumps({"data": data}) + "\n")


def count_rows(url: str) -> int:
    engine = create_db_engine(url)
    with engine.connect() as connection:
        rows = int(connection.execute(select(func.count()).select_from(transactions)).scalar_one())
    engine.dispose()
    return rows


@dataclass
class CallbackRun:
    load: LoadResult
    stored: int
    seconds: float

    @property
    def stored_per_second(self) -> float:
        return self.stored / self.seconds


def run_bot(
    database_url: str, bodies: Path, connections: int, seconds: float, rate: float | None = None
) -> CallbackRun:
    engine = create_db_engine(database_url)
    migrate(engine)
    engine.dispose()
    port = free_port()
    env = bench_env(
        PORT=str(port), DATABASE_URL=database_url, IAK_USERNAME=USERNAME, IAK_API_KEY=API_KEY
    )
    before = count_rows(database_url)
    with serve(iak_bot("serve"), env, port) as bot:
        options: dict[str, Any] = {
            "bodies": bodies,
            "headers": {"Content-Type": "application/json"},
            "connections": connections,
            "seconds": seconds,
        }
        if rate:
            load = wrk_at_rate(bot.url + "/iak/callback", rate=rate, **options)
        else:
            load = wrk(bot.url + "/iak/callback", **options)
    # stored during the measured run (a paced run's calibration stored some rows first)
    stored = count_rows(database_url) - before
    return CallbackRun(load, stored, seconds if not rate else seconds + 3)


def run_floor(bodies: Path, connections: int, seconds: float) -> LoadResult:
    port = free_port()
    argv = baseline_app("benchmarks.floor_fastapi:create_app", port)
    with serve(argv, bench_env(PYTHONPATH=str(ROOT)), port) as floor:
        return wrk(
            floor.url + "/iak/callback",
            bodies=bodies,
            headers={"Content-Type": "application/json"},
            connections=connections,
            seconds=seconds,
        )


def fresh_postgres_schema(base: str) -> str:
    """A new empty schema on the benchmark Postgres; returns a URL that uses it. The schema
    is dropped when the benchmark exits (a million-row run leaves hundreds of MB)."""
    from sqlalchemy import create_engine, text

    schema = f"bench_{secrets.token_hex(4)}"
    admin_url = base.replace("postgresql://", "postgresql+psycopg://")

    def run(statement: str) -> None:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(statement))
        finally:
            admin.dispose()

    run(f'CREATE SCHEMA "{schema}"')
    atexit.register(run, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return f"{base}?options=-csearch_path%3D{schema}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rate", type=float, default=1000, help="paced run's callbacks/s")
    parser.add_argument("--postgres", default=POSTGRES_URL, help="Postgres server URL ('' to skip)")
    parser.add_argument("--rounds", type=int, default=3, help="saturated floor and bot runs")
    args = parser.parse_args()
    for line in report(args.connections, args.seconds, args.rate, args.postgres, args.rounds):
        print(line)


def saturated_rounds(
    url: str, directory: Path, connections: int, seconds: float, rounds: int
) -> tuple[CallbackRun, LoadResult, list[float]]:
    """The floor and the bot in turn, `rounds` times, each round with callbacks of its own
    (a repeat would be a duplicate, not a write): the round whose ratio is the median, and
    every round's ratio. On a shared machine the floor alone swings by half from one run
    to the next; a neighbour's load then weighs on both halves of a round alike."""
    pairs = []
    for n in range(rounds):
        bodies = directory / f"round{n}.jsonl"
        write_bodies(bodies, int(seconds * 10000), f"cb{n}")
        floor = run_floor(bodies, connections, seconds)
        pairs.append((run_bot(url, bodies, connections, seconds), floor))
    return median_round(pairs, lambda run: run.load.requests_per_second)


def report(
    connections: int, seconds: float, rate: float, postgres: str, rounds: int = 3
) -> list[str]:
    """Run every load and return the printed report."""
    lines = [
        f"IAK callbacks, {connections} concurrent senders, {seconds:.0f} s per run; saturated: "
        f"{rounds} rounds of the floor and the bot in turn, the median round shown"
    ]
    with tempfile.TemporaryDirectory() as tmp:
        bodies = Path(tmp) / "bodies.jsonl"
        write_bodies(bodies, int(seconds * 10000), "cb")
        databases = [("SQLite", f"sqlite:///{tmp}/bench.db")]
        if postgres:
            databases.append(("Postgres", fresh_postgres_schema(postgres)))
        for name, url in databases:
            saturated, floor, ratios = saturated_rounds(
                url, Path(tmp), connections, seconds, rounds
            )
            ratio = saturated.load.requests_per_second / floor.requests_per_second
            lines.append(floor.line("bare FastAPI route (floor)"))
            lines.append(
                saturated.load.line(f"iak-bot on {name}, saturated")
                + f"   stored {saturated.stored_per_second:.0f}/s   {ratio:.2f} of floor"
            )
            lines.append("  ratio per round: " + ", ".join(f"{r:.2f}" for r in ratios))
            paced = run_bot(url, bodies, connections, seconds, rate=rate)
            lines.append(paced.load.line(f"iak-bot on {name}, paced at {rate:.0f}/s"))
            record(
                f"callbacks stored on {name}, saturated, {connections} senders",
                f"{saturated.stored_per_second:.0f}/s (p99 {saturated.load.p99_ms:.0f} ms, "
                f"floor {floor.requests_per_second:.0f} req/s)",
                f">= {GOAL_STORED}/s and >= 0.5 of the floor" if name == "SQLite" else "",
                (saturated.stored_per_second >= GOAL_STORED and ratio >= 0.5)
                if name == "SQLite"
                else None,
                f"{ratio:.2f} (median of {len(ratios)} rounds)",
            )
            record(
                f"callback p99 on {name} at {rate:.0f}/s",
                f"{paced.load.p99_ms:.1f} ms (p50 {paced.load.p50_ms:.1f}, "
                f"{paced.load.requests_per_second:.0f} req/s, errors {paced.load.errors})",
                "< 50 ms, no error",
                paced.load.p99_ms < 50 and paced.load.errors == 0,
            )
            if name == "SQLite":
                met = (
                    saturated.stored_per_second >= GOAL_STORED
                    and paced.load.p99_ms < 50
                    and ratio >= 0.5
                    and saturated.load.errors == paced.load.errors == 0
                )
                lines.append(
                    f"  goals (>= {GOAL_STORED} stored/s, p99 < 50 ms at {rate:.0f}/s, "
                    ">= 0.5 of floor): " + ("met" if met else "NOT all met")
                )
    return lines


if __name__ == "__main__":
    main()
