"""`iak-bot serve` with two worker processes: whichever worker answers GET /metrics, it counts
what both did, the monitor's ticks in the worker that leads included; the directory where
the workers keep their counts is the bot's own, and gone when serve ends."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.alerts import wait_until
from tests.support.cli import clean_env, free_port, iak_bot
from tests.support.fakes.slack import FakeSlack
from tests.support.intake import callback_body
from tests.support.metrics import METRICS_TOKEN, Scrape, scrape
from tests.support.processes import wait_healthy

# scenario tests: the bot runs whole, over loopback or as processes
pytestmark = pytest.mark.slow

CALLBACKS = 20


def test_two_workers_and_the_monitor_add_up_in_every_scrape(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    with FakeSlack() as slack:
        port = free_port()
        env = clean_env(
            PORT=str(port),
            WEB_CONCURRENCY="2",
            TMPDIR=str(temporary),
            METRICS_TOKEN=METRICS_TOKEN,
            SLACK_BOT_TOKEN="xoxb-metrics",
            SLACK_SIGNING_SECRET="metrics-signing-secret",
            SLACK_API_URL=slack.api_url,
            # the test credentials tests.support.intake signs callbacks with
            IAK_USERNAME="082210138584",
            IAK_API_KEY="test-iak-api-key",
            IAK_BASE_URL="http://127.0.0.1:9",
            OPS_CHANNEL="C0ALERTS",
            MONITOR_INTERVAL_SECONDS="0.2",
            DATABASE_URL=f"sqlite:///{tmp_path}/metrics.db",
        )
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        assert iak_bot("migrate", cwd=tmp_path, env=env).returncode == 0
        log_path = tmp_path / "serve.log"
        log = log_path.open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env, stdout=log, stderr=log
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, process, log_path, timeout=60)
            (metrics_dir,) = temporary.glob("iak-bot-metrics-*")
            for n in range(CALLBACKS):
                # a connection each, so both workers take some
                answer = httpx.post(url + "/iak/callback", json=callback_body(f"mp-{n}"))
                assert answer.status_code == 200, answer.text

            def both_workers_ticked(seen: Scrape) -> bool:
                # one worker leads the monitor, the other ticks without the lease
                ticks = "iak_bot_monitor_tick_seconds_count"
                return (
                    seen.value(ticks, lease="held") > 0 and seen.value(ticks, lease="not_held") > 0
                )

            wait_until(lambda: both_workers_ticked(scrape(url)), timeout=20)
            for _ in range(8):  # whichever worker answers
                seen = scrape(url)
                assert both_workers_ticked(seen)
                assert (
                    seen.value(
                        "iak_bot_intake_requests_total",
                        route="callback",
                        outcome="success",
                        rc="00",
                        status="200",
                    )
                    == CALLBACKS
                )
            workers = {path.stem.rsplit("_", 1)[-1] for path in metrics_dir.glob("*.db")}
            assert len(workers) == 2, workers
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()
        assert process.returncode == 0, log_path.read_text()
        assert not metrics_dir.exists()
