"""IAK's scheduled PLN cut-off (23:00–01:00 WIB, postpaid rc 109): failures with its code
inside it open no spike and `/iak stats` counts them apart; outside it they are failures
like any other. Through the real callback route, the fake Slack and the fake clock."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.alerts import Shop, parent_ts, parents, settle, text_of
from tests.support.bot import RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.slack import FakeSlack
from tests.support.messages import answer, visible_text


def test_cut_off_failures_open_no_spike_and_stats_counts_them_apart(
    monitored: Callable[..., RunningBot],
    clock: FakeClock,
    fake_slack: FakeSlack,
    database_url: str,
) -> None:
    bot = monitored(database_url=database_url, spike_min_failures=3)
    shop = Shop(bot)
    # the fake clock starts at 10:00 WIB: 23:10 WIB is inside the cut-off
    clock.advance(hours=13, minutes=10)
    for n in range(5):
        shop.callback(f"cut{n}", "2", "109", product="PLNPOSTPAID")
    settle(bot)  # several ticks see them in the spike window
    assert parents(fake_slack) == []

    stats = visible_text(answer(bot.slack.command("stats 1h")))
    assert "+5 failed in the PLN cut-off" in stats
    assert "No failures in the last" in stats  # none counted among the codes

    # 01:30 WIB: the cut-off is over, and the same code is a failure like any other
    clock.advance(hours=2, minutes=20)
    for n in range(3):
        shop.callback(f"late{n}", "2", "109", product="PLNPOSTPAID")
    parent_ts(fake_slack)
    assert "3 failures" in text_of(parents(fake_slack)[0])
    stats = visible_text(answer(bot.slack.command("stats 24h")))
    assert "+5 failed in the PLN cut-off" in stats and "Top failure: rc 109 (3)" in stats


def test_a_109_of_another_product_is_not_excused_by_the_cut_off(
    monitored: Callable[..., RunningBot], clock: FakeClock, fake_slack: FakeSlack
) -> None:
    bot = monitored(spike_min_failures=3)
    clock.advance(hours=13, minutes=30)  # 23:30 WIB
    for n in range(3):
        Shop(bot).callback(f"bpjs{n}", "2", "109", product="BPJS")
    parent_ts(fake_slack)
    assert "3 failures" in text_of(parents(fake_slack)[0])


def test_postpaid_cut_off_failures_open_no_spike_and_stats_counts_them_apart(
    monitored: Callable[..., RunningBot],
    clock: FakeClock,
    fake_slack: FakeSlack,
    database_url: str,
) -> None:
    """The cut-off is postpaid's: a bill failing with 109 inside it is counted under
    `postpaid 109`, and excused there, not under prepaid 109."""
    bot = monitored(database_url=database_url, spike_min_failures=3)
    shop = Shop(bot)
    clock.advance(hours=13, minutes=10)  # 23:10 WIB
    for n in range(5):
        shop.bill(f"cutbill{n}", response_code="109", message="SYSTEM CUT OFF", status=None)
    settle(bot)
    assert parents(fake_slack) == []
    stats = visible_text(answer(bot.slack.command("stats 1h")))
    assert "+5 failed in the PLN cut-off" in stats
    assert "No failures in the last" in stats
