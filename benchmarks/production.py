"""Production figures (issue 7): start-up time, WEB_CONCURRENCY, memory after load, and
sustained callbacks at 1,000/s for 60 s on SQLite and Postgres."""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.callbacks import (
    API_KEY,
    POSTGRES_URL,
    USERNAME,
    count_rows,
    fresh_postgres_schema,
    write_bodies,
)
from benchmarks.common import (
    ROOT,
    bench_env,
    free_port,
    iak_bot,
    migrated_sqlite,
    record,
    serve,
    wrk,
    wrk_at_rate,
)
from benchmarks.slash_commands import signed_command
from bot.store.db import create_db_engine, migrate

sys.path.insert(0, str(ROOT))
from tests.support.fakes.slack import FakeSlack


def startup_seconds(runs: int = 3) -> list[float]:
    """From spawning `iak-bot serve` to its first 200 on /healthz."""
    times = []
    for _ in range(runs):
        port = free_port()
        env = bench_env(PORT=str(port))
        started = time.monotonic()
        process = subprocess.Popen(
            iak_bot("serve"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tempfile.gettempdir(),
        )
        try:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.01)
            times.append(time.monotonic() - started)
        finally:
            process.terminate()
            process.wait(15)
    return times


def concurrency(seconds: float) -> tuple[float, float, int]:
    """/iak code throughput with WEB_CONCURRENCY 1 and 2, and alerts posted with 2."""
    body, headers = signed_command("code 17")
    results = []
    with FakeSlack() as slack:
        for workers in (1, 2):
            port = free_port()
            env = bench_env(
                PORT=str(port),
                WEB_CONCURRENCY=str(workers),
                SLACK_API_URL=slack.api_url,
                OPS_CHANNEL="C0BENCH",
                MONITOR_ENABLED="true",
                MONITOR_INTERVAL_SECONDS="0.5",
                IAK_USERNAME=USERNAME,
                IAK_API_KEY=API_KEY,
            )
            with serve(iak_bot("serve"), env, port) as bot:
                url = bot.url + "/slack/events"
                wrk(url, body=body, headers=headers, connections=20, seconds=2, threads=1)
                results.append(
                    wrk(
                        url, body=body, headers=headers, connections=20, seconds=seconds, threads=1
                    ).requests_per_second
                )
                if workers == 2:
                    sign = hashlib.md5(f"{USERNAME}{API_KEY}cc-1".encode()).hexdigest()
                    data = {"ref_id": "cc-1", "status": "2", "rc": "102", "sign": sign}
                    for _ in range(4):  # whichever worker gets it, the alert is posted once
                        httpx.post(bot.url + "/iak/callback", json={"data": data})
                    slack.wait_for("chat.postMessage", 1, timeout=10)
                    time.sleep(3)
        posted = len(slack.calls_to("chat.postMessage"))
    return results[0], results[1], posted


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    kib = int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])
    return kib / 1024


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (uvicorn's workers, their writer processes, ...)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def tree_rss_after_load(database_url: str, workers: int, seconds: float) -> tuple[float, int]:
    """Resident memory (MB) of the whole `serve` process tree (every worker and every
    process it starts) after /iak code and callback load, and how many processes it has."""
    engine = create_db_engine(database_url)
    migrate(engine)
    engine.dispose()
    body, headers = signed_command("code deposit")
    port = free_port()
    env = bench_env(
        PORT=str(port),
        DATABASE_URL=database_url,
        WEB_CONCURRENCY=str(workers),
        IAK_USERNAME=USERNAME,
        IAK_API_KEY=API_KEY,
    )
    with tempfile.TemporaryDirectory() as tmp, serve(iak_bot("serve"), env, port) as bot:
        bodies = Path(tmp) / "bodies.jsonl"
        write_bodies(bodies, int(seconds * 4000), "rss")
        wrk(bot.url + "/slack/events", body=body, headers=headers, connections=20, seconds=seconds)
        wrk(
            bot.url + "/iak/callback",
            bodies=bodies,
            headers={"Content-Type": "application/json"},
            connections=50,
            seconds=seconds,
        )
        tree = [bot.process.pid, *_descendants(bot.process.pid)]
        total = sum(_rss_mb(pid) for pid in tree)
    return total, len(tree)


def sustained(database_url: str, seconds: float, rate: float) -> tuple[object, int]:
    engine = create_db_engine(database_url)
    migrate(engine)
    engine.dispose()
    port = free_port()
    env = bench_env(
        PORT=str(port), DATABASE_URL=database_url, IAK_USERNAME=USERNAME, IAK_API_KEY=API_KEY
    )
    with tempfile.TemporaryDirectory() as tmp, serve(iak_bot("serve"), env, port) as bot:
        bodies = Path(tmp) / "bodies.jsonl"
        write_bodies(bodies, int((seconds + 5) * rate * 1.3), "sus")
        load = wrk_at_rate(
            bot.url + "/iak/callback",
            rate=rate,
            connections=50,
            seconds=seconds,
            bodies=bodies,
            headers={"Content-Type": "application/json"},
        )
    return load, count_rows(database_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10, help="per throughput run")
    parser.add_argument("--sustain", type=float, default=60, help="sustained callback run")
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--postgres", default=POSTGRES_URL)
    args = parser.parse_args()

    boots = startup_seconds()
    print(f"serve ready (first 200 on /healthz): {', '.join(f'{t:.2f}' for t in boots)} s")
    record(
        "serve ready on $PORT",
        f"{statistics.median(boots):.2f} s (max {max(boots):.2f})",
        "< 3 s",
        max(boots) < 3,
    )

    one, two, posted = concurrency(args.seconds)
    print(
        f"/iak code, WEB_CONCURRENCY=1: {one:.0f} req/s; =2: {two:.0f} req/s ({two / one:.2f}x); "
        f"alert posted {posted} time(s)"
    )
    record(
        "/iak code throughput, WEB_CONCURRENCY=2 vs 1",
        f"{two:.0f} vs {one:.0f} req/s",
        "well above one worker",
        two / one >= 1.2,
        f"{two / one:.2f}",
    )
    record("alert posts with 2 workers", f"{posted}", "once", posted == 1)

    # A web dyno's memory is the whole tree: the SQLite default at one worker, and the
    # production shape (Postgres, two workers) against a 512 MB dyno.
    memory = [("SQLite", migrated_sqlite(), 1, 150.0)]
    if args.postgres:
        memory.append(("Postgres", fresh_postgres_schema(args.postgres), 2, 300.0))
    for name, url, workers, goal in memory:
        total, processes = tree_rss_after_load(url, workers, args.seconds)
        print(
            f"serve process tree RSS after load, {name}, WEB_CONCURRENCY={workers}: "
            f"{total:.0f} MB in {processes} processes"
        )
        record(
            f"web dyno resident memory after load (whole process tree), {name}, "
            f"WEB_CONCURRENCY={workers}",
            f"{total:.0f} MB in {processes} processes",
            f"<= {goal:.0f} MB",
            total <= goal,
        )

    backends = [("SQLite", migrated_sqlite())]
    if args.postgres:
        backends.append(("Postgres", fresh_postgres_schema(args.postgres)))
    for name, url in backends:
        load, stored = sustained(url, args.sustain, args.rate)
        print(
            load.line(f"callbacks at {args.rate:.0f}/s for {args.sustain:.0f} s, {name}")  # type: ignore[attr-defined]
            + f"   stored {stored}"
        )
        record(
            f"sustained callbacks {args.rate:.0f}/s for {args.sustain:.0f} s, {name}",
            f"p99 {load.p99_ms:.1f} ms, {load.requests_per_second:.0f} req/s, "  # type: ignore[attr-defined]
            f"errors {load.errors}",  # type: ignore[attr-defined]
            "p99 < 50 ms, no error",
            load.p99_ms < 50 and load.errors == 0,
        )  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
