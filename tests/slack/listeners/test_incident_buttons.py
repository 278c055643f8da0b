"""Scenario: the buttons on alerts, clicked as Slack sends them (signed block_actions)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from tests.support.alerts import (
    OPS,
    Shop,
    buttons_of,
    click,
    delivered_parents,
    parent_ts,
    replies,
    settle,
    text_of,
    wait_until,
)
from tests.support.bot import RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.iak import FakeIak, IakReply, transaction
from tests.support.fakes.slack import Call, FakeSlack


def latest_parent(slack: FakeSlack, ts: str) -> Call:
    """The parent as it now looks: its last edit, or the post itself."""
    edits = [c for c in slack.calls_to("chat.update") if c.args.get("ts") == ts]
    if edits:
        return edits[-1]
    return next(c for c in delivered_parents(slack) if c.answer["ts"] == ts)


def spike(
    monitored: Callable[..., RunningBot], slack: FakeSlack, **overrides: Any
) -> tuple[RunningBot, Shop, str]:
    bot = monitored(**overrides)
    shop = Shop(bot)
    shop.callback("b1", "2", "102")
    ts = parent_ts(slack)
    # Slack has answered the post; the bot records its ts (and the row as sent) just after.
    incidents = bot.bot.services.incidents
    wait_until(lambda: [i.parent_ts for i in incidents.open_incidents()] == [ts])
    return bot, shop, ts


def test_acknowledge_records_who_tells_the_thread_and_stops_broadcasts(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, clock: FakeClock
) -> None:
    bot, shop, ts = spike(monitored, fake_slack)
    ack = buttons_of(delivered_parents(fake_slack)[0])["incident_ack"]
    started = time.monotonic()
    assert click(bot, "incident_ack", ack["value"], user="U0LEAD").status_code == 200
    assert time.monotonic() - started < 3
    wait_until(
        lambda: any("Acknowledged by <@U0LEAD>" in text_of(c) for c in replies(fake_slack, ts))
    )
    wait_until(lambda: "Acknowledged by <@U0LEAD>" in text_of(latest_parent(fake_slack, ts)))
    assert "incident_ack" not in buttons_of(latest_parent(fake_slack, ts))
    (told,) = fake_slack.wait_for_response("click")
    assert told["response_type"] == "ephemeral"
    incident = bot.bot.services.incidents.open_incidents()[0]
    assert incident.acknowledged_by == "U0LEAD"
    # a later update goes to the thread without reply_broadcast
    for n in range(2, 8):
        shop.callback(f"b{n}", "2", "102")
    clock.advance(minutes=6)
    wait_until(
        lambda: any(
            "Resolved" in text_of(c) or "failures since" in text_of(c)
            for c in replies(fake_slack, ts)
        )
    )
    late = [c for c in replies(fake_slack, ts) if "Acknowledged" not in text_of(c)]
    assert late and all(c.args.get("reply_broadcast") in (None, False, "false", "0") for c in late)
    # acknowledging twice says who did
    click(bot, "incident_ack", ack["value"], key="again")
    (again,) = fake_slack.wait_for_response("again")
    assert "U0LEAD" in again["text"] and "already" in again["text"]


def test_mute_holds_new_messages_and_shows_until_when(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, clock: FakeClock
) -> None:
    bot, shop, ts = spike(monitored, fake_slack)
    incident_id = buttons_of(delivered_parents(fake_slack)[0])["incident_ack"]["value"]
    click(bot, "incident_mute", f"{incident_id}:60", select=True, user="U0MUTER", key="mute")
    wait_until(
        lambda: "muted until 11:00 WIB by <@U0MUTER>" in text_of(latest_parent(fake_slack, ts))
    )
    before = len(replies(fake_slack, ts))
    for n in range(2, 12):
        shop.callback(f"m{n}", "2", "102")  # the count doubles: normally a broadcast update
    settle(bot)
    assert len(replies(fake_slack, ts)) == before  # muted: no new message
    select = buttons_of(latest_parent(fake_slack, ts))["incident_mute"]
    assert select["options"][0]["value"] == f"{incident_id}:0"  # Unmute offered
    click(bot, "incident_mute", f"{incident_id}:0", select=True, key="unmute")
    (told,) = fake_slack.wait_for_response("unmute")
    assert "Unmuted" in told["text"]
    wait_until(lambda: "muted until" not in text_of(latest_parent(fake_slack, ts)))


def test_muting_an_rc_holds_its_next_incident_until_the_mute_ends(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, clock: FakeClock
) -> None:
    bot, shop, _ = spike(monitored, fake_slack)
    incident_id = buttons_of(delivered_parents(fake_slack)[0])["incident_ack"]["value"]
    click(bot, "incident_mute", f"{incident_id}:1440:all", select=True, key="rc")
    (told,) = fake_slack.wait_for_response("rc")
    assert "any new incident of rc 102" in told["text"]
    clock.advance(minutes=6)
    settle(bot)
    clock.advance(minutes=6)  # a quiet window: the incident resolves (an edit, not a message)
    wait_until(lambda: not bot.bot.services.incidents.open_incidents())
    shop.callback("again1", "2", "102")  # the rc fails again within the 24 h mute
    wait_until(lambda: len(bot.bot.services.incidents.open_incidents()) == 1)
    settle(bot)
    assert len(delivered_parents(fake_slack)) == 1  # held back
    clock.advance(hours=24)
    shop.callback("again2", "2", "102")
    wait_until(lambda: len(delivered_parents(fake_slack)) == 2)


def test_recheck_now_asks_iak_about_the_waiting_transactions(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, clock: FakeClock, fake_iak: FakeIak
) -> None:
    bot = monitored()
    Shop(bot).pending("r1")
    clock.advance(minutes=16)
    ts = parent_ts(fake_slack)
    buttons = buttons_of(delivered_parents(fake_slack)[0])
    click(bot, "incident_recheck", buttons["incident_recheck"]["value"], key="recheck")
    (asking,) = fake_slack.wait_for_response("recheck")
    assert "Asking IAK about 1 transaction now" in asking["text"]
    # Only now does IAK know the outcome: the monitor's own re-checks, which go on beside
    # the button's, cannot settle it before the button has taken it on.
    before = len(fake_iak.calls_for("r1"))
    fake_iak.always("r1", IakReply(200, transaction("r1", "success")))
    wait_until(lambda: any("Rechecked 1 waiting" in text_of(c) for c in replies(fake_slack, ts)))
    wait_until(lambda: len(fake_iak.calls_for("r1")) > before, clock=clock)
    wait_until(lambda: any("Resolved" in text_of(c) for c in replies(fake_slack, ts)), clock=clock)


def test_a_click_on_a_resolved_incident_says_so(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, clock: FakeClock
) -> None:
    bot, _, ts = spike(monitored, fake_slack)
    incident_id = buttons_of(delivered_parents(fake_slack)[0])["incident_ack"]["value"]
    clock.advance(minutes=6)
    settle(bot)
    clock.advance(minutes=6)
    wait_until(lambda: "Resolved" in text_of(latest_parent(fake_slack, ts)))
    assert "incident_ack" not in buttons_of(latest_parent(fake_slack, ts))  # no buttons now
    click(bot, "incident_ack", incident_id, key="late")
    (told,) = fake_slack.wait_for_response("late")
    assert "already resolved" in told["text"]


def test_buttons_refuse_people_outside_the_allowed_lists(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot, _, _ = spike(monitored, fake_slack, allowed_users=["U0OPS0001"])
    incident_id = buttons_of(delivered_parents(fake_slack)[0])["incident_ack"]["value"]
    click(bot, "incident_ack", incident_id, user="U0STRANGER", key="no")
    (told,) = fake_slack.wait_for_response("no")
    assert "only show transaction details" in told["text"]
    settle(bot)
    assert bot.bot.services.incidents.open_incidents()[0].acknowledged_by is None


def click_in(
    bot: RunningBot, channel: str, action_id: str, value: str, *, key: str, **options: Any
) -> None:
    """A click on an alert's button as it would come from `channel`."""
    container = {"type": "message", "message_ts": "1.1", "channel_id": channel}
    bot.slack.action(
        action_id,
        value,
        channel_id=channel,
        response_key=key,
        container={**container, "is_ephemeral": False},
        **options,
    )


def mutes_recorded(bot: RunningBot) -> int:
    with bot.bot.services.database.engine.connect() as connection:
        return int(connection.scalar(text("SELECT count(*) FROM mutes")) or 0)


def test_only_admins_mute_and_everyone_allowed_acknowledges(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, database_url: str
) -> None:
    bot, _, ts = spike(
        monitored, fake_slack, database_url=database_url, admin_users=["U0LEAD", "U0HEAD"]
    )
    incident_id = buttons_of(delivered_parents(fake_slack)[0])["incident_ack"]["value"]
    incidents = bot.bot.services.incidents
    for n, choice in enumerate(("60", "1440:all")):
        click(bot, "incident_mute", f"{incident_id}:{choice}", select=True, key=f"no{n}")
        (told,) = fake_slack.wait_for_response(f"no{n}")
        assert "Only the bot's admins can mute" in told["text"]
        assert told["response_type"] == "ephemeral"
    incident = incidents.get(int(incident_id))
    assert incident is not None and incident.muted_until is None and incident.muted_by is None
    assert mutes_recorded(bot) == 0  # nor the rc's future incidents
    click(bot, "incident_ack", incident_id, key="ack")
    wait_until(lambda: incidents.open_incidents()[0].acknowledged_by == "U0OPS0001")
    click(bot, "incident_mute", f"{incident_id}:1440:all", select=True, user="U0LEAD", key="yes")
    (told,) = fake_slack.wait_for_response("yes")
    assert "any new incident of rc 102" in told["text"]
    assert incidents.open_incidents()[0].muted_by == "U0LEAD"
    assert mutes_recorded(bot) == 1
    wait_until(lambda: "by <@U0LEAD>" in text_of(latest_parent(fake_slack, ts)))


def test_a_click_acts_only_on_an_incident_of_the_channel_it_came_from(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, database_url: str
) -> None:
    bot, _, _ = spike(monitored, fake_slack, database_url=database_url)
    incident_id = buttons_of(delivered_parents(fake_slack)[0])["incident_ack"]["value"]
    elsewhere = "C0ELSEWHERE"
    click_in(bot, elsewhere, "incident_ack", incident_id, key="ack")
    click_in(bot, elsewhere, "incident_recheck", incident_id, key="recheck")
    click_in(bot, elsewhere, "incident_mute", "", key="mute", extra=mute_option(incident_id))
    for key in ("ack", "recheck", "mute"):
        (told,) = fake_slack.wait_for_response(key)
        assert "acts only on the alert it belongs to" in told["text"]
    settle(bot)
    incident = bot.bot.services.incidents.open_incidents()[0]
    assert incident.acknowledged_by is None and incident.muted_until is None
    assert mutes_recorded(bot) == 0


def test_clicks_from_another_workspace_change_nothing(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, database_url: str
) -> None:
    """In a Slack Connect channel, the other organisation's people see the alert too."""
    bot, _, _ = spike(monitored, fake_slack, database_url=database_url)
    incident_id = buttons_of(delivered_parents(fake_slack)[0])["incident_ack"]["value"]
    click_in(bot, OPS, "incident_ack", incident_id, key="ack", team_id="T0PARTNER")
    click_in(
        bot, OPS, "incident_mute", "", key="mute", extra=mute_option(incident_id), team_id="T0X"
    )
    for key in ("ack", "mute"):
        (told,) = fake_slack.wait_for_response(key)
        assert "only show transaction details" in told["text"]
    settle(bot)
    incident = bot.bot.services.incidents.open_incidents()[0]
    assert incident.acknowledged_by is None and incident.muted_until is None


def mute_option(incident_id: str) -> dict[str, Any]:
    """The "mute 24 h, new incidents too" option, as a select's click carries it."""
    return {
        "type": "static_select",
        "selected_option": {
            "value": f"{incident_id}:1440:all",
            "text": {"type": "plain_text", "text": "x"},
        },
    }


def test_opening_the_home_tab_publishes_the_dashboard(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    import json
    import time as clock_time
    from urllib.parse import urlencode  # noqa: F401

    bot, _, ts = spike(monitored, fake_slack, allowed_users=["U0OPS0001"], allowed_channels=[OPS])
    for user in ("U0OPS0001", "U0STRANGER"):
        event = {
            "token": "x",
            "team_id": "T0TEAM",
            "api_app_id": "A0IAKBOT",
            "type": "event_callback",
            "event_id": f"Ev{user}",
            "event_time": int(clock_time.time()),
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": "D0HOME",
                "tab": "home",
                "event_ts": f"{clock_time.time():.6f}",
            },
        }
        answer = bot.slack.post(json.dumps(event), content_type="application/json")
        assert answer.status_code == 200
    published = fake_slack.wait_for("views.publish", 2)
    views = {call.args["user_id"]: call.args["view"] for call in published}
    mine = str(views["U0OPS0001"])
    assert "102 INVALID IP ADDRESS" in mine and f"p{ts.replace('.', '')}" in mine
    assert "102" not in str(views["U0STRANGER"]) and "ops team" in str(views["U0STRANGER"])
