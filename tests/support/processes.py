"""Real `iak-bot` processes for tests: wait until one answers on /healthz."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select

from bot.store.db import create_db_engine
from bot.store.schema import leases


def wait_healthy(
    url: str,
    process: subprocess.Popen[bytes] | subprocess.Popen[str],
    log: Path,
    # generous: on a CI machine busy with the suite's other workers, a serve process has
    # taken over 20 s to import, check its database and bind
    timeout: float = 60,
) -> float:
    """Block until `url`/healthz answers 200; fail with the process's log if it dies or
    takes longer than `timeout` (Heroku's boot timeout: on a machine shared with other
    test runs, the interpreter alone can take 20 s to start; benchmarks/ measures the real
    start-up). Returns the seconds it took."""
    started = time.monotonic()
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        assert process.poll() is None, log.read_text()
        assert time.monotonic() - started < timeout, (
            f"not healthy in {timeout} s: {log.read_text()}"
        )
        time.sleep(0.02)


def wait_for_leader_ticks(database_url: str, ticks: int = 3, timeout: float = 30) -> None:
    """Block until whichever process leads the monitor has ticked `ticks` more times (each
    leader tick stamps the lease's `last_tick_at`), read from the database the processes
    share: what a test waits on before it asserts that nothing more was posted."""
    engine = create_db_engine(database_url)
    try:
        seen: set[object] = set()
        deadline = time.monotonic() + timeout
        while len(seen) <= ticks:
            assert time.monotonic() < deadline, f"{len(seen) - 1} leader ticks in {timeout} s"
            with engine.connect() as connection:
                seen.add(connection.execute(select(leases.c.last_tick_at)).scalar())
            time.sleep(0.05)
    finally:
        engine.dispose()


@dataclass
class Served:
    """A running `iak-bot serve`: its process, URL and log file."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path


@contextmanager
def serving(env: dict[str, str], directory: Path, *, healthy: bool = True) -> Iterator[Served]:
    """`iak-bot serve` as a real process on `env["PORT"]`, run in `directory` with its output
    in `serve.log` there. Waits for /healthz to answer 200 unless `healthy` is False; at the
    end SIGTERM, then a kill if it has not stopped within 15 s."""
    log_path = directory / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            cwd=directory,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    served = Served(process, f"http://127.0.0.1:{env['PORT']}", log_path)
    try:
        if healthy:
            wait_healthy(served.url, process, log_path)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
