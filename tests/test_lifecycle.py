"""Heroku's lifecycle with the real process: bind fast, and on SIGTERM finish what is in
flight (a status card waiting on IAK, queued alerts), hand the monitor lease over, exit."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import select

from bot.store.db import create_db_engine
from bot.store.schema import leases
from tests.fakes.iak import FakeIak, IakReply, transaction
from tests.fakes.slack import FakeSlack
from tests.processes import wait_healthy
from tests.slack_requests import SlackSender
from tests.support.cli import clean_env, free_port, iak_bot

SECRET = "lifecycle-signing-secret"


def test_sigterm_finishes_in_flight_work_and_hands_the_lease_over(tmp_path: Path) -> None:
    with FakeSlack() as slack, FakeIak("082210138584", "k-lifecycle") as iak:
        port = free_port()
        database_url = f"sqlite:///{tmp_path}/life.db"
        env = clean_env(
            PORT=str(port),
            SLACK_BOT_TOKEN="xoxb-life",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.api_url,
            IAK_USERNAME="082210138584",
            IAK_API_KEY="k-lifecycle",
            IAK_BASE_URL=iak.url,
            OPS_CHANNEL="C0ALERTS",
            MONITOR_INTERVAL_SECONDS="0.2",
            DATABASE_URL=database_url,
        )
        assert iak_bot("migrate", cwd=tmp_path, env=env).returncode == 0
        log = (tmp_path / "serve.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env, stdout=log, stderr=log
        )
        url = f"http://127.0.0.1:{port}"
        try:
            # Heroku allows 60 s; the production benchmark reports the real figure
            wait_healthy(url, process, tmp_path / "serve.log", timeout=30)
            # the monitor leads (one process)
            health = httpx.get(url + "/healthz").json()
            deadline = time.monotonic() + 5
            while not health["monitor"]["this_process_leads"]:
                assert time.monotonic() < deadline
                time.sleep(0.05)
                health = httpx.get(url + "/healthz").json()
            # a status check whose IAK answer takes 1.5 s is in flight when SIGTERM arrives
            iak.always("slow-at-exit", IakReply(200, transaction("slow-at-exit"), delay=1.5))
            sender = SlackSender(url, SECRET, slack.base_url + "/response")
            assert sender.command("status slow-at-exit", response_key="late").status_code == 200
            sender.close()
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(15)
            exited_after = time.monotonic() - signalled
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
        assert exited_after < 10
        # the card still reached Slack
        (card,) = slack.responses("late")
        assert "slow-at-exit" in str(card)
    # the lease was handed over, not left to expire
    engine = create_db_engine(database_url)
    with engine.connect() as connection:
        expires_at = connection.execute(select(leases.c.expires_at)).scalar_one()
    engine.dispose()
    assert expires_at <= datetime.now(UTC)
