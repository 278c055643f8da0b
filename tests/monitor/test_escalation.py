"""Scenario: nobody left alone with an incident. ONCALL_MENTION in the parent of incidents
that stop all sales and in escalations, escalation of what nobody acknowledged (with a
short ESCALATE_AFTER_SECONDS), a reminder to whoever acknowledged it, and the end of a
mute; all driven by the fake clock and read off the fake Slack, on SQLite and Postgres."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.support.alerts import (
    Shop,
    broadcast,
    click,
    parent_ts,
    parents,
    replies,
    settle,
    text_of,
    wait_until,
)
from tests.support.bot import RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.slack import Call, FakeSlack

GROUP = "<!subteam^S0ONCALL>"


def escalations(slack: FakeSlack, ts: str) -> list[Call]:
    return [c for c in replies(slack, ts) if "nobody has acknowledged" in text_of(c)]


def test_a_sales_stopping_incident_mentions_on_call_and_escalates_once_unacknowledged(
    monitored: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    clock: FakeClock,
    database_url: str,
) -> None:
    bot = monitored(database_url=database_url, oncall_mention="S0ONCALL", escalate_after_seconds=60)
    shop = Shop(bot)
    shop.callback("ip1", "2", "102")
    ts = parent_ts(fake_slack)
    parent = parents(fake_slack)[0]
    assert GROUP in parent.args["text"]  # the notification itself pings the group
    assert GROUP in text_of(parent)
    shop.callback("ip2", "2", "102")
    settle(bot)
    assert escalations(fake_slack, ts) == []  # not yet a minute
    clock.advance(seconds=61)
    wait_until(lambda: len(escalations(fake_slack, ts)) == 1)
    (escalation,) = escalations(fake_slack, ts)
    assert broadcast(escalation)  # re-announced in the channel
    shown = text_of(escalation)
    assert GROUP in shown and GROUP in escalation.args["text"]
    assert "2 failures since it opened at 10:00 WIB" in shown
    clock.advance(seconds=120)
    settle(bot)
    assert len(escalations(fake_slack, ts)) == 1  # once


def test_other_incidents_escalate_four_times_later_mentioning_each_user(
    monitored: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    clock: FakeClock,
    database_url: str,
) -> None:
    bot = monitored(
        database_url=database_url,
        oncall_mention="U0ALICE, U0BOB",
        escalate_after_seconds=60,
        spike_min_failures=3,
    )
    shop = Shop(bot)
    for n in range(3):
        shop.callback(f"f{n}", "2", "07")
    ts = parent_ts(fake_slack)
    assert "<@U0ALICE>" not in str(parents(fake_slack)[0].args)  # sales go on: no ping
    clock.advance(seconds=61)
    settle(bot)
    assert escalations(fake_slack, ts) == []
    clock.advance(seconds=180)  # four minutes in
    wait_until(lambda: len(escalations(fake_slack, ts)) == 1)
    (escalation,) = escalations(fake_slack, ts)
    assert "<@U0ALICE> <@U0BOB>: nobody has acknowledged this for 4 min" in text_of(escalation)
    assert broadcast(escalation)


def test_an_acknowledged_incident_never_escalates_and_reminds_its_owner_once(
    monitored: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    clock: FakeClock,
    database_url: str,
) -> None:
    bot = monitored(
        database_url=database_url,
        oncall_mention="S0ONCALL",
        escalate_after_seconds=60,
        low_balance_threshold=1_000_000,
    )
    Shop(bot).callback("dep1", "1", "00", balance=750_000)
    ts = parent_ts(fake_slack)
    incident = bot.bot.services.incidents.open_incidents()[0]
    click(bot, "incident_ack", str(incident.id), user="U0LEAD")
    wait_until(lambda: any("Acknowledged by" in text_of(c) for c in replies(fake_slack, ts)))
    clock.advance(minutes=30)
    settle(bot)
    assert escalations(fake_slack, ts) == []

    def reminders() -> list[Call]:
        return [c for c in replies(fake_slack, ts) if "still open" in text_of(c)]

    clock.advance(hours=3, minutes=31)  # four hours after the acknowledgement
    wait_until(lambda: len(reminders()) == 1)
    (reminder,) = reminders()
    assert "<@U0LEAD>: you acknowledged this 4 h" in text_of(reminder)
    assert not broadcast(reminder)
    clock.advance(hours=2)
    settle(bot)
    assert len(reminders()) == 1
    assert escalations(fake_slack, ts) == []


def test_when_a_mute_ends_the_thread_and_the_channel_hear_how_far_it_went(
    monitored: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    clock: FakeClock,
    database_url: str,
) -> None:
    bot = monitored(database_url=database_url, escalate_after_seconds=60)
    shop = Shop(bot)
    shop.callback("m0", "2", "102")
    ts = parent_ts(fake_slack)
    incident = bot.bot.services.incidents.open_incidents()[0]
    click(bot, "incident_mute", f"{incident.id}:60", select=True, user="U0MUTER")
    wait_until(lambda: bot.bot.services.incidents.open_incidents()[0].muted_by == "U0MUTER")
    for n in range(1, 15):  # 102 keeps failing every 4 minutes through the hour's mute
        clock.advance(minutes=4)
        shop.callback(f"m{n}", "2", "102")
        settle(bot, ticks=1)
    assert escalations(fake_slack, ts) == []  # muted: nobody is pinged
    clock.advance(minutes=5)  # the hour is over

    def ended() -> list[Call]:
        return [c for c in replies(fake_slack, ts) if "ended" in text_of(c)]

    wait_until(lambda: len(ended()) == 1)
    (notice,) = ended()
    told = re.search(r"Mute by <@U0MUTER> ended; (\d+) more failures since", text_of(notice))
    assert told is not None and told.group(1) == "14"
    assert broadcast(notice)
    settle(bot)
    assert len(ended()) == 1
    assert escalations(fake_slack, ts) == []  # the notice was the channel's reminder
