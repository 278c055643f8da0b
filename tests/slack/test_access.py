"""Access control: ALLOWED_USERS and ALLOWED_CHANNELS, as the policy and as people meet it.

A refused request must get a polite answer that names nothing (not the lists, not what
was asked about), and must reach neither IAK nor the database.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import event

from bot.config import Settings
from bot.registry import Registry
from bot.slack.access import AccessPolicy, Requester
from bot.slack.blocks.access import REFUSED_TEXT
from tests.support.bot import IAK_API_KEY, IAK_USERNAME, RunningBot, bot_server
from tests.support.fakes.iak import FakeIak, bill, postpaid, transaction
from tests.support.fakes.slack import Call, FakeSlack
from tests.support.messages import answer, visible_text

# scenario tests: the bot runs whole, over loopback or as processes
pytestmark = pytest.mark.slow

OPS_USER, OPS_CHANNEL = "U0OPS0001", "C0OPS0001"
OUTSIDER, ELSEWHERE = "U0OUTSIDE", "C0RANDOM1"
RESTRICTED = (
    "status order001",
    "status pp bill001",
    "status postpaid bill001",
    "pending",
    "stats",
    "stats 7d",
    "balance",
    "find 0817777215",
    "find order001",
)


@pytest.mark.parametrize(
    ("users", "channels", "user", "channel", "allowed"),
    [
        ((), (), OUTSIDER, ELSEWHERE, True),  # no lists: everyone, everywhere
        ((OPS_USER,), (), OPS_USER, ELSEWHERE, True),
        ((OPS_USER,), (), OUTSIDER, OPS_CHANNEL, False),
        ((), (OPS_CHANNEL,), OUTSIDER, OPS_CHANNEL, True),
        ((), (OPS_CHANNEL,), OPS_USER, ELSEWHERE, False),
        ((OPS_USER,), (OPS_CHANNEL,), OPS_USER, OPS_CHANNEL, True),
        ((OPS_USER,), (OPS_CHANNEL,), OPS_USER, ELSEWHERE, False),
        ((OPS_USER,), (OPS_CHANNEL,), OUTSIDER, OPS_CHANNEL, False),
        ((), (OPS_CHANNEL,), OPS_USER, None, False),  # Home tab: no channel to be listed
        ((OPS_USER,), (), OPS_USER, None, True),
    ],
)
def test_policy(
    users: tuple[str, ...],
    channels: tuple[str, ...],
    user: str,
    channel: str | None,
    allowed: bool,
) -> None:
    policy = AccessPolicy(frozenset(users), frozenset(channels))
    assert policy.allows(Requester(user, channel)) is allowed


def test_policy_from_settings() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, allowed_users=" U1 ,U2,", allowed_channels="C1"
    )
    assert AccessPolicy.from_settings(settings) == AccessPolicy(
        frozenset({"U1", "U2"}), frozenset({"C1"}), admins=frozenset({"U1", "U2"})
    )


@pytest.mark.parametrize(
    ("settings", "mutes", "may_not"),
    [
        ({"admin_users": "U9, U8", "allowed_users": "U1"}, "U9", "U1"),
        ({"allowed_users": "U1"}, "U1", "U2"),  # no ADMIN_USERS: the allowed users
        ({}, "U2", None),  # neither: everyone
    ],
)
def test_who_may_mute(settings: dict[str, str], mutes: str, may_not: str | None) -> None:
    policy = AccessPolicy.from_settings(Settings(_env_file=None, **settings))  # type: ignore[arg-type]
    assert policy.allows_muting(mutes)
    if may_not is not None:
        assert not policy.allows_muting(may_not)


def test_requester_of_each_kind_of_request() -> None:
    command = {"command": "/iak", "user_id": "U1", "channel_id": "C1"}
    assert Requester.of(command) == Requester("U1", "C1")
    click = {"type": "block_actions", "user": {"id": "U2"}, "channel": {"id": "C2"}}
    assert Requester.of(click) == Requester("U2", "C2")
    ephemeral = {"type": "block_actions", "user": {"id": "U3"}, "container": {"channel_id": "C3"}}
    assert Requester.of(ephemeral) == Requester("U3", "C3")
    home = {"type": "block_actions", "user": {"id": "U4"}, "container": {"type": "view"}}
    assert Requester.of(home) == Requester("U4", None)


def slack_calls_but_locale(fake_slack: FakeSlack) -> list[Call]:
    """What the bot asked Slack, but for people's locales and its own workspace (auth.test,
    asked once whoever makes the first request)."""
    return [call for call in fake_slack.calls if call.method not in ("users.info", "auth.test")]


@dataclass
class GuardedBot:
    running: RunningBot
    iak: FakeIak
    queries: list[str]

    def untouched_since(self, iak_calls: int, slack_calls: int) -> None:
        """Neither IAK, nor the database, nor Slack's Web API heard of the request (but for
        reading the requester's own locale, so that even the refusal is in their language,
        and the bot's own workspace)."""
        time.sleep(0.05)  # anything spawned would have started by now
        assert len(self.iak.calls) == iak_calls
        assert self.queries == []
        assert len(slack_calls_but_locale(self.running.fake_slack)) == slack_calls


@pytest.fixture(scope="module")
def guarded_bot(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[GuardedBot]:
    """A bot open to one user in one channel, counting every SQL statement it sends."""
    with (
        FakeIak(IAK_USERNAME, IAK_API_KEY) as iak,
        bot_server(
            registry,
            tmp_path_factory.mktemp("access"),
            sqlite_template,
            iak_base_url=iak.url,
            iak_postpaid_base_url=iak.url,
            allowed_users=[OPS_USER],
            allowed_channels=[OPS_CHANNEL],
        ) as running,
    ):
        iak.add(transaction("order001", "pending"))
        iak.add_bill(bill("bill001", "pending"))
        queries: list[str] = []

        def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
            queries.append(statement)

        event.listen(running.bot.services.database.engine, "before_cursor_execute", count)
        yield GuardedBot(running, iak, queries)


@pytest.fixture
def guarded(guarded_bot: GuardedBot) -> GuardedBot:
    guarded_bot.queries.clear()
    return guarded_bot


def assert_refused(message: dict[str, Any]) -> None:
    shown = visible_text(message)
    assert REFUSED_TEXT in shown
    raw = json.dumps(message)
    for secret in (OPS_USER, OPS_CHANNEL, "order001", "bill001", "ALLOWED_"):
        assert secret not in raw


@pytest.mark.parametrize("text", RESTRICTED)
@pytest.mark.parametrize(
    ("user", "channel"),
    [(OUTSIDER, OPS_CHANNEL), (OPS_USER, ELSEWHERE), (OUTSIDER, ELSEWHERE)],
    ids=["user-not-listed", "channel-not-listed", "neither"],
)
def test_refused_commands_touch_nothing(
    guarded: GuardedBot, text: str, user: str, channel: str
) -> None:
    running = guarded.running
    before = len(guarded.iak.calls), len(slack_calls_but_locale(running.fake_slack))
    response = running.slack.command(text, user_id=user, channel_id=channel, response_key="no")
    assert_refused(answer(response))
    guarded.untouched_since(*before)


def test_allowed_requests_go_through(guarded: GuardedBot) -> None:
    running = guarded.running
    checking = answer(running.slack.command("status order001", response_key="yes"))
    assert "Checking order001" in visible_text(checking)
    (card,) = running.fake_slack.wait_for_response("yes")
    assert "Pending" in visible_text(card)
    # The check recorded what IAK said: order001 is pending now.
    assert "`order001`" in visible_text(answer(running.slack.command("pending")))
    assert "IAK transactions, last 24 h" in visible_text(answer(running.slack.command("stats")))
    assert guarded.iak.calls_for("order001")
    running.slack.command("status pp bill001", response_key="yes-pp")
    (bill_card,) = running.fake_slack.wait_for_response("yes-pp")
    assert "In process" in visible_text(bill_card)
    assert guarded.iak.calls_for(postpaid("bill001"))


@pytest.mark.parametrize("text", ["code 17", "codes", "help", "", "code deposit"])
def test_remediation_answers_stay_open(guarded: GuardedBot, text: str) -> None:
    message = answer(guarded.running.slack.command(text, user_id=OUTSIDER, channel_id=ELSEWHERE))
    assert REFUSED_TEXT not in visible_text(message)
    assert guarded.queries == []


@pytest.mark.parametrize(
    ("action_id", "value"),
    [
        ("recheck_status", "order001"),
        ("recheck_status", "postpaid bill001"),
        ("check_found", "order001"),
        ("check_found", "postpaid bill001"),
        ("pending_next_page", "2026-11-28T03:00:00+00:00|order001"),
        ("pending_previous_page", "2026-11-28T03:00:00+00:00|order001"),
    ],
)
def test_refused_buttons_answer_the_clicker_alone_and_touch_nothing(
    guarded: GuardedBot, action_id: str, value: str
) -> None:
    running = guarded.running
    before = (
        len(guarded.iak.calls),
        len(slack_calls_but_locale(running.fake_slack)) + 1,
    )  # + the refusal
    # One response_url per case: the module's bot keeps what earlier cases were sent.
    key = f"click-{action_id}-{zlib.crc32(value.encode())}"
    clicked = running.slack.action(
        action_id, value, user_id=OUTSIDER, channel_id=OPS_CHANNEL, response_key=key
    )
    assert clicked.status_code == 200
    (message,) = running.fake_slack.wait_for_response(key)
    assert message["response_type"] == "ephemeral"
    assert message["replace_original"] is False  # the card they clicked stays as it was
    assert_refused(message)
    guarded.untouched_since(*before)


def test_an_allowed_recheck_still_works(guarded: GuardedBot) -> None:
    running = guarded.running
    running.slack.action("recheck_status", "order001", response_key="re")
    (card,) = running.fake_slack.wait_for_response("re")
    assert card["replace_original"] is True
    assert "Pending" in visible_text(card)


def test_share_stays_open(guarded: GuardedBot) -> None:
    running = guarded.running
    running.slack.action("share_card", "17", user_id=OUTSIDER, response_key="share")
    (shared,) = running.fake_slack.wait_for_response("share")
    assert "17 · INSUFFICIENT DEPOSIT" in visible_text(shared)


# A workspace of another organisation, its people in a Slack Connect channel with ours.
CONNECTED_TEAM = "T0PARTNER"


@pytest.mark.parametrize("text", RESTRICTED)
def test_commands_from_another_workspace_touch_nothing(guarded: GuardedBot, text: str) -> None:
    """Listed user, listed channel (a shared one), but the person is someone else's."""
    running = guarded.running
    before = len(guarded.iak.calls), len(slack_calls_but_locale(running.fake_slack))
    response = running.slack.command(text, team_id=CONNECTED_TEAM, response_key="connect")
    assert_refused(answer(response))
    guarded.untouched_since(*before)


@pytest.mark.parametrize(
    ("action_id", "value"),
    [
        ("recheck_status", "order001"),
        ("pending_next_page", "2026-11-28T03:00:00+00:00|order001"),
    ],
)
def test_clicks_from_another_workspace_touch_nothing(
    guarded: GuardedBot, action_id: str, value: str
) -> None:
    running = guarded.running
    before = len(guarded.iak.calls), len(slack_calls_but_locale(running.fake_slack)) + 1
    key = f"connect-{action_id}"
    running.slack.action(action_id, value, team_id=CONNECTED_TEAM, response_key=key)
    (message,) = running.fake_slack.wait_for_response(key)
    assert message["replace_original"] is False
    assert_refused(message)
    guarded.untouched_since(*before)


def test_data_waits_for_slack_to_say_which_workspace_is_the_bots(
    registry: Registry, tmp_path: Path, sqlite_template: Path
) -> None:
    """auth.test failing: no data (the request could be anyone's); it is asked again on the
    next request, and once known it is not asked again."""
    with bot_server(registry, tmp_path, sqlite_template) as running:
        running.fake_slack.fail("auth.test", "invalid_auth")
        assert_refused(answer(running.slack.command("pending")))
        for text in ("pending", "stats"):
            assert REFUSED_TEXT not in visible_text(answer(running.slack.command(text)))
        assert len(running.fake_slack.calls_to("auth.test")) == 2


def test_a_home_tab_click_without_a_channel_is_refused_quietly(
    guarded: GuardedBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack's block_actions from a Home tab view: no channel and no response_url."""
    running = guarded.running
    payload = {
        "type": "block_actions",
        "user": {"id": OPS_USER, "username": "ops.person", "team_id": "T0TEAM"},
        "api_app_id": "A0IAKBOT",
        "token": "deprecated-verification-token",
        "container": {"type": "view", "view_id": "V0HOME0001"},
        "trigger_id": "1234.5678.abcdef",
        "team": {"id": "T0TEAM", "domain": "acme"},
        "view": {"id": "V0HOME0001", "type": "home", "blocks": [], "state": {"values": {}}},
        "actions": [
            {
                "type": "button",
                "action_id": "recheck_status",
                "block_id": "b1",
                "text": {"type": "plain_text", "text": "Recheck"},
                "value": "order001",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    caplog.set_level(logging.INFO, logger="bot")
    before = len(guarded.iak.calls), len(slack_calls_but_locale(running.fake_slack))
    response = running.slack.post(urlencode({"payload": json.dumps(payload)}))
    assert response.status_code == 200
    assert "failed on our side" not in response.text  # an ack, not the error handler
    guarded.untouched_since(*before)
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []
    assert "refused action recheck_status" in caplog.text


def open_home(running: RunningBot, user: str) -> dict[str, Any]:
    """Open the App Home tab as `user` does; the view Slack was asked to publish."""
    event_body = {
        "token": "x",
        "team_id": "T0TEAM",
        "api_app_id": "A0IAKBOT",
        "type": "event_callback",
        "event_id": f"Ev{user}{time.time_ns()}",
        "event_time": int(time.time()),
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": "D0HOME",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        },
    }
    before = len(running.fake_slack.calls_to("views.publish"))
    assert (
        running.slack.post(json.dumps(event_body), content_type="application/json").status_code
        == 200
    )
    published = running.fake_slack.wait_for("views.publish", before + 1)
    view: dict[str, Any] = published[-1].args["view"]
    return view


@pytest.mark.parametrize(
    ("users", "channels", "user", "sees_data"),
    [
        ((), (), OUTSIDER, True),
        ((OPS_USER,), (), OPS_USER, True),
        ((OPS_USER,), (), OUTSIDER, False),
        # ALLOWED_CHANNELS set: the dashboard only for people ALLOWED_USERS names
        ((), (OPS_CHANNEL,), OUTSIDER, False),
        ((), (OPS_CHANNEL,), OPS_USER, False),
        ((OPS_USER,), (OPS_CHANNEL,), OPS_USER, True),
        ((OPS_USER,), (OPS_CHANNEL,), OUTSIDER, False),
    ],
)
def test_the_home_tab_obeys_access_control(
    registry: Registry,
    tmp_path: Path,
    sqlite_template: Path,
    users: tuple[str, ...],
    channels: tuple[str, ...],
    user: str,
    sees_data: bool,
) -> None:
    with bot_server(
        registry,
        tmp_path,
        sqlite_template,
        allowed_users=list(users),
        allowed_channels=list(channels),
    ) as running:
        shown = visible_text(open_home(running, user))
    assert ("Open incidents" in shown) is sees_data
    assert ("ask whoever runs this bot" in shown) is not sees_data


@pytest.mark.parametrize(
    ("settings", "warned"),
    [
        ({"iak_env": "production"}, True),
        ({"iak_env": "production", "allowed_channels": ["C0OPS0001"]}, False),
    ],
)
def test_production_without_access_lists_is_a_warning_at_start(
    registry: Registry,
    tmp_path: Path,
    sqlite_template: Path,
    caplog: pytest.LogCaptureFixture,
    settings: dict[str, Any],
    warned: bool,
) -> None:
    """What the bot logs as it starts (the same records `serve` prints: see
    tests/test_logging.py for how they reach the process's output)."""
    caplog.set_level(logging.WARNING)
    with bot_server(registry, tmp_path, sqlite_template, **settings):
        pass
    logged = caplog.text
    assert ("ALLOWED_USERS and ALLOWED_CHANNELS are empty" in logged) is warned
    assert ("anyone can mute an alert" in logged) is warned


def test_the_home_tab_shows_no_data_to_another_workspace(
    registry: Registry, tmp_path: Path, sqlite_template: Path
) -> None:
    """A Slack Connect guest can open the bot's Home tab: users.info names their own
    workspace, and the dashboard (balance, failures, incidents) is not theirs to see."""
    with bot_server(registry, tmp_path, sqlite_template) as running:
        running.fake_slack.set_team("U0GUEST", "T0OTHER")
        guest = visible_text(open_home(running, "U0GUEST"))
        ours = visible_text(open_home(running, OPS_USER))
    assert "IAK deposit" not in guest and "Open incidents" not in guest
    assert "IAK deposit" in ours
