"""Faults with real connections: the database disappears for a while (Postgres restarting,
simulated by cutting a proxy in front of it), and the service answers 503 instead of
hanging, then recovers without a restart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import RunningBot
from tests.db import TEST_DATABASE_URL, postgres_schema
from tests.fakes.tcp_proxy import TcpProxy
from tests.support.intake import INGEST_TOKEN, callback_body, topup_answer


@pytest.fixture
def proxied_postgres() -> Iterator[tuple[str, TcpProxy]]:
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    with postgres_schema() as url:
        parsed = make_url(url)
        proxy = TcpProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
        try:
            yield parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(False), proxy
        finally:
            proxy.close()


def test_database_outage_gives_503_then_recovers(
    start_bot: Callable[..., RunningBot], proxied_postgres: tuple[str, TcpProxy]
) -> None:
    url, proxy = proxied_postgres
    bot = start_bot(database_url=url, ingest_token=INGEST_TOKEN)
    http = httpx.Client(timeout=30)
    try:
        assert http.post(bot.url + "/iak/callback", json=callback_body("before")).status_code == 200

        proxy.cut()
        started = time.monotonic()
        during = http.post(bot.url + "/iak/callback", json=callback_body("during"))
        assert during.status_code == 503
        assert "try again" in during.json()["error"]
        assert time.monotonic() - started < 10  # an answer, not a hang
        assert http.get(bot.url + "/healthz").status_code == 503
        # Slack still gets its answers: /iak code needs no database
        assert bot.slack.command("code 17").status_code == 200

        proxy.restore()
        deadline = time.monotonic() + 15
        while http.get(bot.url + "/healthz").status_code != 200:
            assert time.monotonic() < deadline, "no recovery"
            time.sleep(0.2)
        assert http.post(bot.url + "/iak/callback", json=callback_body("during")).status_code == 200
        headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
        assert (
            http.post(
                bot.url + "/transactions", json=topup_answer("after"), headers=headers
            ).status_code
            == 200
        )
        states = [
            bot.bot.services.database.transactions.get(r) for r in ("before", "during", "after")
        ]
        assert all(state is not None for state in states)
    finally:
        http.close()
