"""`iak-bot serve` started while its database is down: it serves (503 for what needs the
database, /iak code for Slack), and recovers when the database is back, without a restart.
A real process, as the platform runs it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.bot import IAK_API_KEY, IAK_USERNAME, SIGNING_SECRET
from tests.support.cli import clean_env, free_port
from tests.support.fakes.slack import FakeSlack
from tests.support.fakes.tcp_proxy import TcpProxy
from tests.support.intake import callback_body
from tests.support.metrics import METRICS_TOKEN, OPERATOR, health_details
from tests.support.processes import Served, serving, wait_healthy
from tests.support.slack_requests import SlackSender

# scenario tests: the bot runs whole, over loopback or as processes
pytestmark = pytest.mark.slow


def _env(slack: FakeSlack, database_url: str) -> dict[str, str]:
    return clean_env(
        PORT=str(free_port()),
        SLACK_BOT_TOKEN="xoxb-down",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        IAK_USERNAME=IAK_USERNAME,
        IAK_API_KEY=IAK_API_KEY,
        OPS_CHANNEL="C0ALERTS",
        MONITOR_INTERVAL_SECONDS="0.2",
        METRICS_TOKEN=METRICS_TOKEN,
        DATABASE_URL=database_url,
    )


def _answering(url: str, process: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    """The first /healthz answer, whatever its status (the process must not die meanwhile)."""
    deadline = time.monotonic() + 60  # a busy machine starts a process slowly
    while True:
        try:
            return httpx.get(url + "/healthz", timeout=5)
        except httpx.TransportError:
            pass
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def _down_then_back(served: Served, slack: FakeSlack, bring_back: Callable[[], None]) -> None:
    url, process, log = served.url, served.process, served.log
    down = _answering(url, process, log)
    assert down.status_code == 503
    assert down.json() == {"status": "unavailable"}
    assert httpx.get(url + "/healthz", headers=OPERATOR).json()["database"] == "unavailable"
    refused = httpx.post(url + "/iak/callback", json=callback_body("while-down"), timeout=15)
    assert refused.status_code == 503, refused.text
    sender = SlackSender(url, SIGNING_SECRET, slack.base_url + "/response")
    try:
        assert sender.command("code 17").status_code == 200  # needs no database
    finally:
        sender.close()

    bring_back()
    wait_healthy(url, process, log)
    assert httpx.get(url + "/healthz").json() == {"status": "ok"}
    deadline = time.monotonic() + 15
    while True:
        stored = httpx.post(url + "/iak/callback", json=callback_body("while-down"), timeout=15)
        if stored.status_code == 200:
            break
        assert time.monotonic() < deadline, stored.text
        time.sleep(0.2)
    assert stored.json()["ref_id"] == "while-down"
    # the monitor came back too: this process leads again
    deadline = time.monotonic() + 30
    while not health_details(url)["monitor"]["this_process_leads"]:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    assert process.poll() is None  # the same process: no restart
    said = log.read_text()
    assert "starting without the database" in said
    assert "the database answers again, its schema is current" in said


def test_postgres_down_at_start(tmp_path: Path, proxied_postgres: tuple[str, TcpProxy]) -> None:
    url, proxy = proxied_postgres
    proxy.cut()
    # The proxy's port stays ours while it is down (bound, not listening: connections are
    # refused), or another process on this machine could take it and answer for Postgres.
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    held.bind(("127.0.0.1", proxy.port))

    def back() -> None:
        held.close()
        proxy.restore()

    try:
        with FakeSlack() as slack, serving(_env(slack, url), tmp_path, healthy=False) as served:
            _down_then_back(served, slack, back)
    finally:
        held.close()


def test_sqlite_file_missing_at_start(tmp_path: Path, sqlite_template: Path) -> None:
    """The SQLite file's volume is not mounted yet: its directory is not there (a file
    stands where it should be, so it cannot be made either)."""
    volume = tmp_path / "volume"
    volume.write_text("not mounted")
    database = volume / "iak_bot.db"

    def mount() -> None:
        volume.unlink()
        volume.mkdir()
        shutil.copy(sqlite_template, database)

    with (
        FakeSlack() as slack,
        serving(_env(slack, f"sqlite:///{database}"), tmp_path, healthy=False) as served,
    ):
        _down_then_back(served, slack, mount)


def test_a_schema_that_does_not_fit_still_stops_serve(tmp_path: Path) -> None:
    with FakeSlack() as slack:
        env = _env(slack, f"sqlite:///{tmp_path}/empty.db")
        with serving(env, tmp_path, healthy=False) as served:
            assert served.process.wait(60) == 2
    assert "iak-bot migrate" in served.log.read_text()
