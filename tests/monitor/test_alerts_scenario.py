"""Scenario: the real server, the fake Slack, a fake IAK and a fake clock. Transactions
arrive over HTTP; the monitor (ticking every 50 ms of real time, deciding on the fake
clock) posts threaded alerts; assertions are on what Slack received."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.support.alerts import (
    CUSTOMER,
    Shop,
    delivered_parents,
    parent_ts,
    parents,
    posts,
    replies,
    settle,
    text_of,
    wait_until,
)
from tests.support.bot import MONITOR_INGEST_TOKEN as TOKEN
from tests.support.bot import RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.iak import FakeIak, IakReply, transaction
from tests.support.fakes.slack import FakeSlack
from tests.support.metrics import METRICS_TOKEN, health_details


def test_a_pending_transaction_ages_out_then_resolves_in_its_thread(
    monitored: Callable[..., RunningBot], clock: FakeClock, fake_slack: FakeSlack
) -> None:
    bot = monitored()
    shop = Shop(bot)
    shop.pending("order001")
    settle(bot)
    assert parents(fake_slack) == []  # not aged out yet
    clock.advance(minutes=16)
    ts = parent_ts(fake_slack)
    parent = parents(fake_slack)[0]
    assert parent.args["channel"] == "C0ALERTS"
    shown = text_of(parent)
    assert "order001" in shown and "pending too long" in shown and "08***215" in shown
    assert CUSTOMER not in str(parent.args)

    shop.callback("order001", "2", "14")
    wait_until(lambda: len(fake_slack.calls_to("chat.update")) >= 1)
    thread = replies(fake_slack, ts)
    assert "failed (rc 14)" in text_of(thread[0])
    assert "Fix the input" in text_of(thread[0])  # the rc's remediation
    assert "Resolved" in text_of(thread[-1])
    assert thread[-1].args.get("reply_broadcast") in (True, "true", "1")
    update = fake_slack.calls_to("chat.update")[-1]
    assert update.args["ts"] == ts
    assert "Resolved" in text_of(update)
    assert len(parents(fake_slack)) == 1


def test_a_thousand_aging_out_together_is_one_parent(
    monitored: Callable[..., RunningBot], clock: FakeClock, fake_slack: FakeSlack
) -> None:
    bot = monitored()
    shop = Shop(bot)
    for n in range(300):
        shop.pending(f"bulk{n:04d}")
    clock.advance(minutes=16)
    parent_ts(fake_slack)
    settle(bot)  # several more ticks
    assert len(parents(fake_slack)) == 1
    assert len(posts(fake_slack)) == 1
    shown = text_of(parents(fake_slack)[0])
    assert "+280 more" in shown


def test_a_failure_spike_opens_one_parent_and_threads_its_updates(
    monitored: Callable[..., RunningBot], clock: FakeClock, fake_slack: FakeSlack
) -> None:
    bot = monitored(spike_min_failures=3)
    shop = Shop(bot)
    for n in range(3):
        shop.callback(f"fail{n}", "2", "07", product="tsel10")
    ts = parent_ts(fake_slack)
    parent = text_of(parents(fake_slack)[0])
    assert "07 FAILED" in parent and "3 failures" in parent and "tsel10" in parent
    assert "Retry now" in parent  # the remediation card
    for n in range(3, 8):
        shop.callback(f"fail{n}", "2", "07")
    wait_until(lambda: len(replies(fake_slack, ts)) >= 1)
    # a tick may catch the burst half-way: the update comes once the total has doubled
    update = re.search(r"(\d+) failures since this started", text_of(replies(fake_slack, ts)[0]))
    assert update is not None and 6 <= int(update.group(1)) <= 8
    assert len(parents(fake_slack)) == 1
    # quiet for a whole window: resolved
    clock.advance(minutes=6)
    settle(bot)
    clock.advance(minutes=6)
    wait_until(lambda: any("Resolved" in text_of(c) for c in replies(fake_slack, ts)))
    wait_until(lambda: "Resolved" in text_of(fake_slack.calls_to("chat.update")[-1]))
    assert len(parents(fake_slack)) == 1


def test_a_code_that_stops_sales_alerts_on_its_first_occurrence(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = monitored(spike_min_failures=10)
    Shop(bot).callback("ip1", "2", "102")
    parent_ts(fake_slack)
    shown = text_of(parents(fake_slack)[0])
    assert "102 INVALID IP ADDRESS" in shown and "sales are failing" in shown


def test_low_deposit(monitored: Callable[..., RunningBot], fake_slack: FakeSlack) -> None:
    bot = monitored(low_balance_threshold=1_000_000)
    Shop(bot).callback("dep1", "1", "00", balance=750_000)
    parent_ts(fake_slack)
    assert "IAK deposit low: Rp750.000" in text_of(parents(fake_slack)[0])


def test_slack_rate_limits_then_an_outage_lose_no_alert(
    monitored: Callable[..., RunningBot], clock: FakeClock, fake_slack: FakeSlack
) -> None:
    fake_slack.rate_limit("chat.postMessage", retry_after=1, times=1)
    bot = monitored()
    shop = Shop(bot)
    shop.callback("rl1", "2", "102")
    wait_until(lambda: len(parents(fake_slack)) == 1)
    settle(bot)
    assert len(parents(fake_slack)) == 1  # Retry-After honoured: not again within the second
    clock.advance(seconds=1)
    ts = parent_ts(fake_slack, 0)  # after the 429, the same post succeeds
    assert [c.answer["_status"] for c in parents(fake_slack)] == [429, 200]
    fake_slack.set_down("503")
    shop.callback("rl2", "2", "204")  # a second incident while Slack is down
    shop.pending("rl3")
    settle(bot)  # a few ticks see the 204 inside its window
    clock.advance(minutes=16)
    settle(bot)
    fake_slack.set_down(None)
    wait_until(lambda: len(delivered_parents(fake_slack)) >= 3, clock=clock)
    texts = [text_of(c) for c in delivered_parents(fake_slack)]
    assert len(texts) == 3  # each alert once, none lost
    assert any("204" in text for text in texts)
    assert any("rl3" in text for text in texts)
    assert ts


def test_two_monitors_on_one_database_post_each_alert_once(
    monitored: Callable[..., RunningBot], clock: FakeClock, fake_slack: FakeSlack, database_url: str
) -> None:
    first = monitored(database_url=database_url)
    second = monitored(database_url=database_url)
    Shop(first).callback("dup1", "2", "110")
    Shop(second).callback("dup2", "2", "205")
    Shop(second).pending("dup3")
    settle(first)
    settle(second)
    clock.advance(minutes=16)
    wait_until(lambda: len(delivered_parents(fake_slack)) >= 3)
    settle(first)  # many more ticks of both monitors
    settle(second)
    assert len(parents(fake_slack)) == 3
    leaders = [bot.bot.alerting.monitor.is_leader for bot in (first, second) if bot.bot.alerting]
    assert sorted(leaders) == [False, True]


def test_restart_mid_incident_continues_the_same_thread(
    monitored: Callable[..., RunningBot], clock: FakeClock, fake_slack: FakeSlack, database_url: str
) -> None:
    url = database_url
    first = monitored(database_url=url)
    Shop(first).pending("rs1")
    clock.advance(minutes=16)
    ts = parent_ts(fake_slack)
    first.stop()
    second = monitored(database_url=url)
    Shop(second).callback("rs1", "1", "00")
    wait_until(lambda: any("Resolved" in text_of(c) for c in replies(fake_slack, ts)), timeout=10)
    assert len(parents(fake_slack)) == 1


def test_permanent_slack_error_is_reported_and_nothing_is_lost(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    fake_slack.fail("chat.postMessage", "not_in_channel", times=1)
    bot = monitored(metrics_token=METRICS_TOKEN)
    Shop(bot).callback("perm1", "2", "205")
    wait_until(lambda: health_details(bot.url).get("slack_errors"))
    health = health_details(bot.url)
    assert health["slack_errors"] == {"C0ALERTS": "not_in_channel"}
    assert health["outbox"]["backlog"] == 1
    assert len(posts(fake_slack)) == 1


def test_pending_transactions_are_rechecked_at_iak(
    monitored: Callable[..., RunningBot], clock: FakeClock, fake_slack: FakeSlack, fake_iak: FakeIak
) -> None:
    bot = monitored()
    shop = Shop(bot)
    shop.pending("chk1")
    clock.advance(minutes=16)
    ts = parent_ts(fake_slack)
    fake_iak.always("chk1", IakReply(200, transaction("chk1", "success")))
    clock.advance(minutes=1)
    wait_until(lambda: any("Resolved" in text_of(c) for c in replies(fake_slack, ts)), timeout=10)
    assert fake_iak.calls_for("chk1")


def test_the_monitor_backs_off_while_iak_hangs_or_answers_garbage_then_recovers(
    start_bot: Callable[..., RunningBot], clock: FakeClock, fake_slack: FakeSlack, fake_iak: FakeIak
) -> None:
    from bot.iak.client import CallLimits

    bot = start_bot(
        clock=clock,
        iak_limits=CallLimits(connect_timeout=0.2, deadline=0.3, backoff=0.01),
        monitor_enabled=True,
        monitor_interval_seconds=0.05,
        ingest_token=TOKEN,
        iak_base_url=fake_iak.url,
    )
    shop = Shop(bot)
    shop.pending("hang1")
    fake_iak.script(
        "hang1",
        IakReply(200, transaction("hang1", "pending"), delay=1.0),  # past the deadline
        IakReply(200, raw=b"<html>502 Bad Gateway</html>"),
    )
    clock.advance(minutes=16)
    ts = parent_ts(fake_slack)

    def checked_twice() -> bool:
        clock.advance(seconds=30)  # re-checks are due on the (fake) clock
        return len(fake_iak.calls_for("hang1")) >= 2

    wait_until(checked_twice)
    # meanwhile the bot answers Slack at once
    assert bot.slack.command("code 17").status_code == 200
    fake_iak.always("hang1", IakReply(200, transaction("hang1", "success")))
    for _ in range(5):  # back-off grows; time moves on
        clock.advance(minutes=5)
        settle(bot)
    wait_until(lambda: any("Resolved" in text_of(c) for c in replies(fake_slack, ts)), timeout=10)
    checks = fake_iak.calls_for("hang1")
    assert 3 <= len(checks) <= 12  # re-checked, but not hammered


def test_slack_down_for_two_minutes_then_rate_limiting_loses_nothing(
    monitored: Callable[..., RunningBot], clock: FakeClock, fake_slack: FakeSlack
) -> None:
    """Slack down for two whole minutes of the bot's clock, then rate limiting: every alert
    raised meanwhile arrives afterwards, once each, parents before their thread replies."""
    bot = monitored()
    shop = Shop(bot)
    fake_slack.set_down("503")
    shop.callback("down1", "2", "204")  # incident A opens while Slack is down
    shop.pending("down2")
    wait_until(lambda: any(c.answer.get("_status") == 503 for c in posts(fake_slack)))
    clock.advance(minutes=16)  # incident B: a pending transaction ages out
    settle(bot)
    for n in range(3, 8):  # A's count doubles: a thread update is queued behind A's parent
        shop.callback(f"down{n}", "2", "204")
    settle(bot)
    for _ in range(24):  # two minutes pass; the notifier keeps trying, backing off
        clock.advance(seconds=5)
        settle(bot, ticks=1)
    tries_while_down = len(posts(fake_slack))
    assert 3 <= tries_while_down <= 12  # retried with back-off, not hammered
    fake_slack.rate_limit("chat.postMessage", retry_after=1, times=2)
    fake_slack.set_down(None)
    wait_until(lambda: len(delivered_parents(fake_slack)) == 2, clock=clock)
    a_ts = next(str(c.answer["ts"]) for c in delivered_parents(fake_slack) if "204" in text_of(c))
    wait_until(lambda: len(replies(fake_slack, a_ts)) >= 1, clock=clock)
    delivered = [c for c in posts(fake_slack) if c.answer.get("ok")]
    # parent of A delivered before its reply; nothing posted twice
    a_parent = next(i for i, c in enumerate(delivered) if c.answer.get("ts") == a_ts)
    a_reply = next(i for i, c in enumerate(delivered) if c.args.get("thread_ts") == a_ts)
    assert a_parent < a_reply
    texts = [c.args.get("text") for c in delivered]
    assert len(texts) == len(set(texts))
    refused = [c.answer.get("_status") for c in posts(fake_slack)]
    assert 503 in refused and 429 in refused  # the outage and the rate limit were really met
