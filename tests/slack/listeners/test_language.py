"""Scenario: who reads an answer decides its language. Over signed HTTP, with the fake
Slack telling each person's locale through users.info."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.slack.blocks.cards import SHARE_ACTION
from tests.support.alerts import wait_until
from tests.support.bot import BOT_TOKEN, RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.iak import FakeIak, IakReply, transaction
from tests.support.fakes.slack import FakeSlack, Reply
from tests.support.iak import SLACK_ACK_DEADLINE
from tests.support.messages import answer, visible_text

ANI = "U0ANIJKT1"  # Slack in Bahasa Indonesia
BEN = "U0BENSGP1"  # Slack in English
KENJI = "U0KENJI01"  # Slack in Japanese, which the bot does not speak
START = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def locales(fake_slack: FakeSlack) -> None:
    fake_slack.set_locale(ANI, "id-ID")
    fake_slack.set_locale(BEN, "en-US")
    fake_slack.set_locale(KENJI, "ja-JP")


def code_17(bot: RunningBot, user_id: str) -> str:
    started = time.monotonic()
    response = bot.slack.command("code 17", user_id=user_id)
    assert time.monotonic() - started < SLACK_ACK_DEADLINE
    return visible_text(answer(response))


def test_each_person_reads_the_answer_in_their_slack_language(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    locales(fake_slack)
    bot = start_bot()
    for_ani, for_ben = code_17(bot, ANI), code_17(bot, BEN)
    assert "Yang harus dilakukan: Isi ulang deposit" in for_ani
    assert "What to do: Top up the deposit" not in for_ani
    assert "What to do: Top up the deposit" in for_ben
    assert "Yang harus dilakukan" not in for_ben
    # IAK's own words reach both as IAK wrote them
    solution = "Your current deposit is lower than the product_price you want to buy."
    assert solution in for_ani and solution in for_ben
    # the locale was asked for, the way Slack tells it
    asked = fake_slack.calls_to("users.info")
    assert {call.args["user"] for call in asked} == {ANI, BEN}
    assert all(call.args["include_locale"] in ("1", "true", "True") for call in asked)
    assert all(call.headers["Authorization"] == f"Bearer {BOT_TOKEN}" for call in asked)


def test_a_locale_the_bot_does_not_speak_gets_bot_language(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    locales(fake_slack)
    bot = start_bot(bot_language="id")
    assert "Yang harus dilakukan" in code_17(bot, KENJI)
    assert "What to do" in code_17(bot, BEN)


def test_a_failing_users_info_falls_back_to_bot_language_within_the_ack(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    locales(fake_slack)
    bot = start_bot(bot_language="id")
    fake_slack.fail("users.info", "missing_scope")  # an app installed before users:read
    assert "Yang harus dilakukan" in code_17(bot, BEN)
    fake_slack.set_down("reset")
    try:
        shown = visible_text(answer(bot.slack.command("codes", user_id=ANI)))
    finally:
        fake_slack.set_down(None)
    assert "Kode respons IAK" in shown


def test_a_slow_users_info_never_holds_the_ack_and_fills_the_cache_for_next_time(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    locales(fake_slack)
    bot = start_bot(bot_language="id")
    fake_slack.script("users.info", Reply(200, _user(BEN, "en-US"), delay=1.5))
    assert "Yang harus dilakukan" in code_17(bot, BEN)  # BOT_LANGUAGE meanwhile
    # the lookup that missed the ack finishes in the background, and is remembered
    wait_until(lambda: "What to do" in code_17(bot, BEN))
    assert len(fake_slack.calls_to("users.info")) == 1


def test_a_locale_is_cached_then_looked_up_again(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    locales(fake_slack)
    clock = FakeClock(START)
    bot = start_bot(clock=clock)
    assert "Yang harus dilakukan" in code_17(bot, ANI)
    fake_slack.set_locale(ANI, "en-GB")  # Ani switches Slack to English
    assert "Yang harus dilakukan" in code_17(bot, ANI)
    assert len(fake_slack.calls_to("users.info")) == 1
    clock.advance(hours=2)
    assert "What to do" in code_17(bot, ANI)
    assert len(fake_slack.calls_to("users.info")) == 2


def test_an_answer_posted_after_the_ack_is_in_the_askers_language(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_iak: FakeIak
) -> None:
    locales(fake_slack)
    bot = start_bot(iak_base_url=fake_iak.url)
    fake_iak.script("order001", IakReply(200, transaction("order001", "success")))
    ack = visible_text(answer(bot.slack.command("status order001", user_id=ANI)))
    assert "Mengecek order001 di IAK (development)" in ack
    (card,) = fake_slack.wait_for_response("r1")
    shown = visible_text(card)
    assert "Transaksi order001" in shown and "Berhasil" in shown and "Rp25.000" in shown


def test_a_card_shared_in_the_channel_is_in_bot_language(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    locales(fake_slack)
    bot = start_bot()  # BOT_LANGUAGE=en
    response = bot.slack.action(SHARE_ACTION, "17", user_id=ANI, response_key="share")
    assert response.status_code == 200
    (shared,) = fake_slack.wait_for_response("share")
    assert shared["response_type"] == "in_channel"
    assert "What to do: Top up the deposit" in visible_text(shared)


def test_the_home_tab_is_in_its_owners_language(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    locales(fake_slack)
    bot = start_bot()
    for user in (ANI, BEN):
        event = {
            "token": "x",
            "team_id": "T0TEAM",
            "api_app_id": "A0IAKBOT",
            "type": "event_callback",
            "event_id": f"Ev{user}",
            "event_time": int(time.time()),
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": "D0HOME",
                "tab": "home",
                "event_ts": f"{time.time():.6f}",
            },
        }
        opened = bot.slack.post(json.dumps(event), content_type="application/json")
        assert opened.status_code == 200
    published = fake_slack.wait_for("views.publish", 2)
    views = {call.args["user_id"]: json.dumps(call.args["view"]) for call in published}
    assert "Bot IAK: kondisi top-up" in views[ANI] and "Insiden terbuka" in views[ANI]
    assert "IAK bot: the state of top-ups" in views[BEN]


def _user(user_id: str, locale: str) -> dict[str, Any]:
    return {"ok": True, "user": {"id": user_id, "locale": locale}}


def test_an_indonesian_card_names_its_table_and_its_link_buttons_in_indonesian(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    locales(fake_slack)
    bot = start_bot()
    card = answer(bot.slack.command("code pp 17", user_id=ANI))
    assert card["blocks"][0]["text"]["text"] == "Pascabayar 17 · BALANCE NOT ENOUGH"
    links = [
        element["text"]["text"]
        for block in card["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if "url" in element
    ]
    assert links == ["Isi ulang deposit IAK", "Deposit sandbox"]
