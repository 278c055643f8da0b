"""Several real processes on one Postgres database: two `serve` and one `monitor`. Every alert
is posted once; SIGKILL the monitor's leader and another process takes over within a few
ticks; no incident is lost or duplicated."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli import clean_env, free_port
from tests.support.db import TEST_DATABASE_URL, postgres_schema
from tests.support.fakes.slack import FakeSlack
from tests.support.metrics import METRICS_TOKEN, health_details
from tests.support.processes import wait_for_leader_ticks

# scenario tests: the bot runs whole, over loopback or as processes
pytestmark = pytest.mark.slow

USERNAME, API_KEY = "082210138584", "k-processes"
INTERVAL = 0.3


@pytest.fixture
def shared_postgres() -> Iterator[str]:
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    with postgres_schema() as url:
        yield url


def callback(url: str, ref_id: str, rc: str) -> None:
    sign = hashlib.md5(f"{USERNAME}{API_KEY}{ref_id}".encode()).hexdigest()
    data = {"ref_id": ref_id, "status": "2", "rc": rc, "sign": sign}
    assert httpx.post(url + "/iak/callback", json={"data": data}, timeout=10).status_code == 200


def delivered_parents(slack: FakeSlack) -> list[str]:
    return [
        str(call.args.get("text"))
        for call in slack.calls_to("chat.postMessage")
        if not call.args.get("thread_ts") and call.answer.get("ok")
    ]


def wait_until(condition: object, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_two_web_processes_and_a_monitor(shared_postgres: str, tmp_path: Path) -> None:
    with FakeSlack() as slack:
        base = clean_env(
            DATABASE_URL=shared_postgres,
            SLACK_BOT_TOKEN="xoxb-procs",
            SLACK_SIGNING_SECRET="s",
            SLACK_API_URL=slack.api_url,
            IAK_USERNAME=USERNAME,
            IAK_API_KEY=API_KEY,
            OPS_CHANNEL="C0ALERTS",
            MONITOR_INTERVAL_SECONDS=str(INTERVAL),
            METRICS_TOKEN=METRICS_TOKEN,
        )
        ports = [free_port(), free_port()]
        commands = [
            ("serve", {"PORT": str(ports[0])}),
            ("serve", {"PORT": str(ports[1])}),
            ("monitor", {}),
        ]
        processes: list[subprocess.Popen[bytes]] = []
        logs = []
        try:
            for n, (command, extra) in enumerate(commands):
                log = (tmp_path / f"p{n}.log").open("w")
                logs.append(log)
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "bot", command],
                        cwd=tmp_path,
                        env={**base, **extra},
                        stdout=log,
                        stderr=log,
                    )
                )
            urls = [f"http://127.0.0.1:{port}" for port in ports]

            def leader() -> str | None:
                for url in urls:
                    try:
                        health = health_details(url)
                    except httpx.HTTPError:
                        continue
                    holder = health.get("monitor", {}).get("leader")
                    if holder:
                        return str(holder)
                return None

            def all_up() -> bool:
                for url in urls:
                    try:
                        httpx.get(url + "/healthz", timeout=2)
                    except httpx.HTTPError:
                        return False
                return True

            wait_until(all_up, timeout=60)
            wait_until(lambda: leader() is not None)
            callback(urls[0], "p-1", "102")
            callback(urls[1], "p-2", "204")
            wait_until(lambda: len(delivered_parents(slack)) >= 2)

            holder = leader()
            assert holder is not None
            pid = int(holder.split(":")[1])
            (victim,) = [p for p in processes if p.pid == pid]
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            survivor = next(
                url for url, p in zip(urls, processes[:2], strict=True) if p is not victim
            )
            killed_at = time.monotonic()
            callback(survivor, "p-3", "205")
            wait_until(lambda: len(delivered_parents(slack)) >= 3)
            takeover = time.monotonic() - killed_at
            # the lease lasts 3 ticks (at least 1 s); then the next tick of another process acts
            assert takeover < 10 * max(INTERVAL, 1)
            wait_until(lambda: leader() not in (None, holder))
            wait_for_leader_ticks(shared_postgres)  # more ticks of the new leader
            texts = delivered_parents(slack)
            assert len(texts) == 3, texts
            assert sorted(t.split(":")[0] for t in texts) == [
                "102 INVALID IP ADDRESS",
                "204 WRONG AUTHENTICATION",
                "205 WRONG COMMAND",
            ]
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
            for log in logs:
                log.close()
