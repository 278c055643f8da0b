"""Scenario: the Show SN button on a status card, clicked as Slack sends it (signed
block_actions), on SQLite and Postgres.

A card masks the serial number (a PLN token buys electricity). Show SN gives it whole to an
admin alone, read from the bot's store; everyone else is refused and sees nothing of it, and
the log says who revealed which ref_id, never the serial.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.slack.blocks.serials import SHOW_SERIAL_ACTION
from tests.support.bot import RunningBot
from tests.support.fakes.iak import FakeIak, transaction
from tests.support.fakes.slack import FakeSlack
from tests.support.intake import INGEST_TOKEN
from tests.support.messages import assert_valid, visible_text

LEAD = "U0LEAD0001"  # in ADMIN_USERS
OPS = "U0OPS0001"  # in ALLOWED_USERS only
STRANGER = "U0STRANGER"  # in neither
ANI = "U0ANIJKT1"  # an admin whose Slack speaks Bahasa Indonesia
TOKEN = "5211-4030-9876-1234-5678"
SERIAL = f"{TOKEN}/BUDI SANTOSO/R1/900"
SOLD = {"product_code": "pln20", "sn": SERIAL}


@pytest.fixture
def serial_bot(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak, database_url: str
) -> Callable[..., RunningBot]:
    def start(**overrides: Any) -> RunningBot:
        settings: dict[str, Any] = {
            "database_url": database_url,
            "iak_base_url": fake_iak.url,
            "ingest_token": INGEST_TOKEN,
            "allowed_users": [LEAD, OPS, ANI],
            "admin_users": [LEAD, ANI],
            **overrides,
        }
        return start_bot(**settings)

    return start


def store(bot: RunningBot, ref_id: str, outcome: str = "success", **fields: Any) -> None:
    """The merchant backend forwards IAK's answer: the bot stores it, serial and all."""
    stored = httpx.post(
        bot.url + "/transactions",
        json={"data": transaction(ref_id, outcome, **fields)},
        headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
    )
    assert stored.status_code == 200, stored.text


def show_sn(bot: RunningBot, value: str, *, user: str, key: str, **options: Any) -> dict[str, Any]:
    """Click Show SN; the one answer that reaches response_url."""
    assert bot.slack.action(SHOW_SERIAL_ACTION, value, user_id=user, response_key=key, **options)
    (told,) = bot.fake_slack.wait_for_response(key)
    assert told["response_type"] == "ephemeral"
    assert told.get("replace_original") in (None, False)  # the masked card stays as it was
    assert_valid(told)
    return told


def everything_slack_got(slack: FakeSlack) -> str:
    return json.dumps([call.args for call in slack.calls], ensure_ascii=False)


def card_buttons(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        element["action_id"]: element
        for block in card["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    }


def test_an_admin_reveals_the_serial_to_themselves_and_the_log_names_who_and_which(
    serial_bot: Callable[..., RunningBot], fake_iak: FakeIak, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bot = serial_bot()
    fake_iak.add(transaction("pln-sold-1", "success", **SOLD))
    bot.slack.command("status pln-sold-1", user_id=LEAD, response_key="card")
    (card,) = bot.fake_slack.wait_for_response("card")
    assert TOKEN not in visible_text(card)  # the card masks it
    button = card_buttons(card)[SHOW_SERIAL_ACTION]
    assert button["text"]["text"] == "Show SN"
    assert button["value"] == "pln-sold-1"  # the transaction only, never the serial

    told = show_sn(bot, button["value"], user=LEAD, key="shown")
    shown = visible_text(told)
    assert SERIAL in shown
    assert "Only you can see this message" in shown
    revealed = [r.getMessage() for r in caplog.records if "revealed the serial" in r.getMessage()]
    assert revealed == [f"user {LEAD} revealed the serial number of pln-sold-1"]
    assert TOKEN not in caplog.text and TOKEN.replace("-", "") not in caplog.text
    assert "BUDI" not in caplog.text


def test_the_serial_comes_from_the_store_for_a_card_posted_long_ago(
    serial_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    """No check at IAK now: what the bot stored is what it shows."""
    bot = serial_bot()
    store(bot, "pln-stored-1", **SOLD)
    told = show_sn(bot, "pln-stored-1", user=LEAD, key="stored")
    assert SERIAL in visible_text(told)
    assert fake_iak.calls == []


def test_people_who_may_not_reveal_are_refused_and_see_nothing_of_it(
    serial_bot: Callable[..., RunningBot], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bot = serial_bot()
    store(bot, "pln-guarded-1", **SOLD)
    # allowed to see transactions, but not an admin
    told = show_sn(bot, "pln-guarded-1", user=OPS, key="ops")
    assert "Only the bot's admins can see a serial number (SN) whole" in visible_text(told)
    # not allowed to see transactions at all
    told = show_sn(bot, "pln-guarded-1", user=STRANGER, key="stranger")
    assert "only show transaction details" in visible_text(told)
    # an admin, but clicking from another workspace (a Slack Connect channel)
    told = show_sn(bot, "pln-guarded-1", user=LEAD, key="partner", team_id="T0PARTNER")
    assert "only show transaction details" in visible_text(told)
    assert TOKEN not in everything_slack_got(bot.fake_slack)
    assert "revealed" not in caplog.text
    assert f"refused the serial number of pln-guarded-1 to user {OPS}" in caplog.text


def test_without_admin_users_the_allowed_users_reveal(
    serial_bot: Callable[..., RunningBot],
) -> None:
    bot = serial_bot(admin_users=[], allowed_users=[OPS])
    store(bot, "voucher-1", sn="7788990011223344")
    assert "7788990011223344" in visible_text(show_sn(bot, "voucher-1", user=OPS, key="ops"))


def test_an_unknown_ref_id_or_one_without_a_serial_says_so(
    serial_bot: Callable[..., RunningBot],
) -> None:
    bot = serial_bot()
    told = show_sn(bot, "never-seen-1", user=LEAD, key="unknown")
    assert "The bot has no record of never-seen-1, so it has no SN to show." in visible_text(told)
    store(bot, "failed-1", "failed")
    told = show_sn(bot, "failed-1", user=LEAD, key="failed")
    assert "The bot holds no SN for failed-1" in visible_text(told)
    # a button naming the other line does not reach this prepaid sale's serial
    store(bot, "pln-prepaid-1", **SOLD)
    told = show_sn(bot, "postpaid pln-prepaid-1", user=LEAD, key="line")
    assert "no record of pln-prepaid-1" in visible_text(told)
    assert TOKEN not in everything_slack_got(bot.fake_slack)


def test_each_person_reads_the_answer_in_their_language(
    serial_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    fake_slack.set_locale(ANI, "id-ID")
    fake_slack.set_locale(OPS, "id-ID")
    bot = serial_bot()
    store(bot, "pln-id-1", **SOLD)
    shown = visible_text(show_sn(bot, "pln-id-1", user=ANI, key="ani"))
    assert "SN pln-id-1" in shown and SERIAL in shown
    assert "Hanya Anda yang bisa melihat pesan ini" in shown
    refused = visible_text(show_sn(bot, "pln-id-1", user=OPS, key="ops"))
    assert "Hanya admin bot yang bisa melihat SN secara utuh" in refused
