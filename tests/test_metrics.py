"""GET /metrics through the real routes: what the test did is what Prometheus reads, parsed
with prometheus_client's own parser; the route exists only with METRICS_TOKEN, and only for
the right bearer."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support.alerts import Shop, wait_until
from tests.support.bot import RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.iak import FakeIak, IakReply, transaction
from tests.support.fakes.slack import FakeSlack
from tests.support.fakes.tcp_proxy import TcpProxy
from tests.support.intake import INGEST_TOKEN, callback_body, topup_answer
from tests.support.metrics import METRICS_TOKEN, Scrape, scrape


def test_metrics_need_metrics_token_set_and_sent(start_bot: Callable[..., RunningBot]) -> None:
    unset = start_bot()
    answer = httpx.get(unset.url + "/metrics", headers={"Authorization": "Bearer x"}, timeout=5)
    assert answer.status_code == 404
    assert "iak_bot" not in answer.text

    bot = start_bot(metrics_token=METRICS_TOKEN)
    refused = [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {METRICS_TOKEN}x"},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
        {"Authorization": METRICS_TOKEN},
    ]
    for headers in refused:
        answer = httpx.get(bot.url + "/metrics", headers=headers, timeout=5)
        assert answer.status_code == 401, headers
        assert answer.headers["www-authenticate"] == "Bearer"
        assert "iak_bot" not in answer.text
    # the right token, in any case of the scheme's name
    answer = httpx.get(
        bot.url + "/metrics", headers={"Authorization": f"bearer {METRICS_TOKEN}"}, timeout=5
    )
    assert answer.status_code == 200
    assert Scrape.parse(answer.text).value("iak_bot_store_up") == 1


def test_commands_callbacks_ingests_and_iak_calls_are_counted(
    start_bot: Callable[..., RunningBot],
    fake_iak: FakeIak,
    fake_slack: FakeSlack,
    database_url: str,
) -> None:
    bot = start_bot(
        metrics_token=METRICS_TOKEN,
        ingest_token=INGEST_TOKEN,
        iak_base_url=fake_iak.url,
        database_url=database_url,
    )
    fresh = scrape(bot.url)
    assert fresh.total("iak_bot_slash_command_seconds_count") == 0
    assert fresh.total("iak_bot_intake_requests_total") == 0

    for text in ("code 17", "code 17", "CODE 6", "", "nonsense words"):
        assert bot.slack.command(text).status_code == 200
    fake_iak.add(transaction("order-ok"))
    fake_iak.always("order-gone", IakReply(404, raw=b"Not Found"))
    bot.slack.command("status order-ok", response_key="ok")
    bot.slack.command("status order-gone", response_key="gone")
    fake_slack.wait_for_response("ok")
    fake_slack.wait_for_response("gone")

    with httpx.Client(base_url=bot.url, timeout=10) as http:
        assert http.post("/iak/callback", json=callback_body("cb-1")).status_code == 200
        unknown_rc = callback_body("cb-2", status="2", rc="777", message="FAILED")
        assert http.post("/iak/callback", json=unknown_rc).status_code == 200
        forged = callback_body("cb-3", sign="0" * 32)
        assert http.post("/iak/callback", json=forged).status_code == 401
        bearer = {"Authorization": f"Bearer {INGEST_TOKEN}"}
        assert (
            http.post("/transactions", json=topup_answer("in-1"), headers=bearer).status_code == 200
        )
        wrong = {"Authorization": "Bearer nope"}
        assert (
            http.post("/transactions", json=topup_answer("in-2"), headers=wrong).status_code == 401
        )
        assert http.post("/transactions", content=b"{", headers=bearer).status_code == 400

    seen = scrape(bot.url)
    commands = "iak_bot_slash_command_seconds_count"
    assert seen.value(commands, subcommand="code") == 3
    assert seen.value(commands, subcommand="help") == 2  # nothing, and words it does not know
    assert seen.value(commands, subcommand="status") == 2
    assert seen.value("iak_bot_slash_command_seconds_bucket", subcommand="code", le="+Inf") == 3
    assert seen.value("iak_bot_slash_command_seconds_sum", subcommand="status") > 0

    intake = "iak_bot_intake_requests_total"
    assert seen.value(intake, route="callback", outcome="success", rc="00", status="200") == 1
    # an rc IAK's tables do not have is one label value, whatever it was
    assert seen.value(intake, route="callback", outcome="failed", rc="other", status="200") == 1
    assert seen.value(intake, route="callback", outcome="none", rc="none", status="401") == 1
    assert seen.value(intake, route="ingest", outcome="pending", rc="39", status="200") == 1
    assert seen.value(intake, route="ingest", outcome="none", rc="none", status="401") == 1
    assert seen.value(intake, route="ingest", outcome="none", rc="none", status="400") == 1
    assert seen.total(intake) == 6

    calls = "iak_bot_iak_calls_total"
    assert seen.value(calls, endpoint="check_status", result="ok") == 1
    assert seen.value(calls, endpoint="check_status", result="http_status") == 1
    assert seen.value("iak_bot_iak_call_seconds_count", endpoint="check_status") == 2
    assert seen.value("iak_bot_iak_call_seconds_bucket", endpoint="check_status", le="12.0") == 2

    # what the database holds (read at most once a second, however often Prometheus asks):
    # the forwarded top-up still pending, and the balance IAK reported last
    wait_until(
        lambda: scrape(bot.url).value("iak_bot_pending_transactions", outcome="pending") == 1
    )
    assert scrape(bot.url).value("iak_bot_deposit_balance_rupiah") == 997061249


def test_database_gauges_follow_incidents_and_the_outbox(
    monitored: Callable[..., RunningBot],
    clock: FakeClock,
    fake_slack: FakeSlack,
    database_url: str,
) -> None:
    bot = monitored(metrics_token=METRICS_TOKEN, database_url=database_url)
    fake_slack.set_down("503")  # the alert waits in the outbox
    shop = Shop(bot)
    shop.pending("p-1")
    shop.pending("p-2")
    shop.callback("s-102", "2", "102", balance=1_234_500)  # stops all sales: alerts at once

    def outbox_waits(seconds: float) -> Callable[[], bool]:
        def check() -> bool:
            seen = scrape(bot.url)
            return (
                seen.value("iak_bot_outbox_backlog") >= 1
                and seen.value("iak_bot_outbox_oldest_age_seconds") >= seconds
            )

        return check

    wait_until(outbox_waits(0))
    clock.advance(minutes=3)
    wait_until(outbox_waits(180))
    seen = scrape(bot.url)
    assert seen.value("iak_bot_open_incidents", kind="spike") == 1
    assert seen.value("iak_bot_open_incidents", kind="pending") == 0
    assert seen.value("iak_bot_open_incidents", kind="deposit") == 0
    assert seen.value("iak_bot_pending_transactions", outcome="pending") == 2
    assert seen.value("iak_bot_pending_transactions", outcome="unknown") == 0
    assert seen.value("iak_bot_deposit_balance_rupiah") == 1_234_500
    assert seen.value("iak_bot_deposit_balance_reported_timestamp_seconds") > 0
    assert seen.value("iak_bot_monitor_tick_seconds_count", lease="held") >= 1
    assert seen.value("iak_bot_monitor_last_tick_timestamp_seconds") > 0

    fake_slack.set_down(None)
    wait_until(lambda: scrape(bot.url).value("iak_bot_outbox_backlog") == 0, clock=clock)
    assert scrape(bot.url).value("iak_bot_outbox_oldest_age_seconds") == 0


def test_a_stalled_database_still_gets_a_scrape_answered(
    start_bot: Callable[..., RunningBot], proxied_postgres: tuple[str, TcpProxy]
) -> None:
    url, proxy = proxied_postgres
    bot = start_bot(metrics_token=METRICS_TOKEN, database_url=url)
    # the callback gives up on its write sooner than the 8 s a request waits in production
    # (tests/test_faults.py holds that one to its time)
    bot.bot.services.database.writer.deadline = 1.0
    assert scrape(bot.url).value("iak_bot_store_up") == 1
    proxy.stall()
    try:
        answer = httpx.post(bot.url + "/iak/callback", json=callback_body("stalled"), timeout=30)
        assert answer.status_code == 503
        wait_until(lambda: scrape(bot.url).value("iak_bot_store_up") == 0, timeout=15)
        seen = scrape(bot.url)
        # what the process counted is still there, the refusal included
        assert (
            seen.value(
                "iak_bot_intake_requests_total",
                route="callback",
                outcome="none",
                rc="none",
                status="503",
            )
            == 1
        )
        assert not seen.has("iak_bot_outbox_backlog")  # no stale figure shown as current
    finally:
        proxy.resume()
    wait_until(lambda: scrape(bot.url).value("iak_bot_store_up") == 1, timeout=15)
