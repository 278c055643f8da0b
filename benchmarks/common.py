"""Shared benchmark machinery: start servers as real processes, drive them with wrk, report."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[1]
SIGNING_SECRET = "bench-signing-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_env(**extra: str) -> dict[str, str]:
    """A clean environment for a server under test: no stray bot settings from the shell."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK", "IAK_", "DATABASE_URL", "INGEST_TOKEN", "OPS_CHANNEL"))
    }
    env.update(
        SLACK_BOT_TOKEN="xoxb-bench",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        MONITOR_ENABLED="false",
        # No daily digest: a benchmark that counts the ops channel's posts counts alerts.
        DIGEST_TIME="",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    if "DATABASE_URL" not in extra:
        env["DATABASE_URL"] = migrated_sqlite()
    return env


def migrated_sqlite() -> str:
    """A fresh, migrated SQLite database in a temporary directory."""
    from bot.store.db import create_db_engine, migrate

    directory = tempfile.mkdtemp(prefix="iak-bench-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    url = f"sqlite:///{directory}/bench.db"
    engine = create_db_engine(url)
    migrate(engine)
    engine.dispose()
    return url


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def serve(
    argv: list[str], env: dict[str, str], port: int, health: str = "/healthz"
) -> Iterator[Server]:
    """Run a server process until it answers `health`, yield it, then stop it."""
    log = tempfile.NamedTemporaryFile(prefix="bench-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(argv, env=env, cwd=tempfile.gettempdir(), stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + health, timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {Path(log.name).read_text()[-2000:]}")
            time.sleep(0.05)
        yield Server(url, process)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def baseline_app(factory: str, port: int) -> list[str]:
    """The command that serves a baseline app (`benchmarks.floor_*:create_app`) the way
    `iak-bot serve` serves the bot: uvicorn, one worker, no access log."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        factory,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def iak_bot(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


@dataclass
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int

    def line(self, label: str) -> str:
        return (
            f"{label:<34} {self.requests_per_second:>9.0f} req/s   p50 {self.p50_ms:6.2f} ms   "
            f"p99 {self.p99_ms:6.2f} ms   errors {self.errors}"
        )


Run = TypeVar("Run")


def median_round(
    rounds: list[tuple[Run, LoadResult]], speed: Callable[[Run], float]
) -> tuple[Run, LoadResult, list[float]]:
    """Of (subject, floor) runs made in turn: the round whose ratio (the subject's `speed`
    over the floor's requests/s) is the median, and every round's ratio, lowest first."""
    ordered = sorted(rounds, key=lambda pair: speed(pair[0]) / pair[1].requests_per_second)
    ratios = [speed(run) / floor.requests_per_second for run, floor in ordered]
    run, floor = ordered[len(ordered) // 2]
    return run, floor, ratios


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


_DONE = (
    "function done(summary, latency, requests)\n"
    '  io.write(string.format("P50 %d\\nP99 %d\\n", latency:percentile(50), '
    "latency:percentile(99)))\n"
    "end\n"
)

# Each wrk thread takes every n-th line of the bodies file and sends them in turn, so
# every request carries a different body (a different ref_id, with its own sign).
_MANY_BODIES = """
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  bodies = {}
  local stride = tonumber(args[2])
  local n = 0
  for line in io.lines(args[1]) do
    if n % stride == tid then bodies[#bodies + 1] = line end
    n = n + 1
  end
  index = 0
end
function request()
  index = index + 1
  if index > #bodies then index = 1 end
  return wrk.format(nil, nil, nil, bodies[index])
end
"""


def wrk(
    url: str,
    *,
    body: bytes | None = None,
    bodies: Path | None = None,
    headers: dict[str, str],
    connections: int,
    seconds: float,
    threads: int = 2,
    rate: float | None = None,
    pause_offset_ms: float = 2.0,
) -> LoadResult:
    """POST `body` (or one line of `bodies` per request) to `url` with wrk; parse its report.

    With `rate`, each connection pauses between requests so the total comes to about that
    many requests per second (latency is then measured at that load, not at saturation).
    """
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: run benchmarks/setup.sh")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        header_lines = "\n".join(
            f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()
        )
        lua = f'wrk.method = "POST"\n{header_lines}\n'
        if bodies is not None:
            lua += _MANY_BODIES
        else:
            body_file = Path(tmp) / "body"
            body_file.write_bytes(body or b"")
            lua += f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*all")\nf:close()\n'
        if rate:
            pause_ms = max(connections / rate * 1000 - pause_offset_ms, 0)
            lua += f"function delay()\n  return {pause_ms:.1f}\nend\n"
        script.write_text(lua + _DONE)
        argv = [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ]
        if bodies is not None:
            argv += ["--", str(bodies), str(threads)]
        output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    p50 = int(re.search(r"P50 (\d+)", output).group(1)) / 1000  # type: ignore[union-attr]
    p99 = int(re.search(r"P99 (\d+)", output).group(1)) / 1000  # type: ignore[union-attr]
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return LoadResult(rps, p50, p99, total, errors)


def wrk_at_rate(
    url: str, *, rate: float, connections: int, seconds: float, **kwargs: Any
) -> LoadResult:
    """wrk paced to about `rate` requests/s: a short calibration run measures the latency a
    connection adds to its pause, then the measured run subtracts it."""
    probe = wrk(url, rate=rate, connections=connections, seconds=3, **kwargs)
    cycle_ms = connections / max(probe.requests_per_second, 1) * 1000
    pause_ms = connections / rate * 1000
    offset = 2.0 + (cycle_ms - pause_ms)
    return wrk(
        url, rate=rate, connections=connections, seconds=seconds, pause_offset_ms=offset, **kwargs
    )


def record(
    figure: str, value: str, goal: str = "", met: bool | None = None, ratio: str = ""
) -> None:
    """Hand one figure to `benchmarks.run_all` (a JSON line in $BENCH_FIGURES), if it asked."""
    path = os.environ.get("BENCH_FIGURES")
    if not path:
        return
    import json

    entry = {"figure": figure, "value": value, "goal": goal, "met": met, "ratio": ratio}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(entry, ensure_ascii=False) + "\n")
