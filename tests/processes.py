"""Real `iak-bot` processes for tests: wait until one answers on /healthz."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx


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
