"""Scenario: `/iak find` over signed HTTP, with transactions that arrived over the bot's own
intake (the backend's reports, IAK's callbacks), on SQLite and Postgres.

What is asserted is what ops notice: which transactions are listed and in which order, what
is masked, who may ask, that a listed transaction's Check asks IAK, and what the log keeps.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.cooldown import CHECK_COOLDOWN
from tests.support.bot import RunningBot
from tests.support.fakes.iak import FakeIak, transaction
from tests.support.intake import callback_body, postpaid_answer, topup_answer
from tests.support.messages import answer, assert_valid, visible_text

INGEST_TOKEN = "ingest-token-for-find"
BEARER = {"Authorization": f"Bearer {INGEST_TOKEN}"}
NUMBER = "081234500001"
SPELLINGS = ("0812-3450-0001", NUMBER, "6281234500001", "+62 812 3450 0001")
# A PLN token as IAK sends it: the token, the customer's name, the segment and power.
TOKEN = "1234-5678-9012-3456-7890"
PLN_SN = f"{TOKEN}/BUDI SANTOSO/R1/900"


def ingest(running: RunningBot, ref_id: str, at: datetime, **data: Any) -> None:
    body = {**topup_answer(ref_id, **data), "created_at": at.isoformat()}
    stored = httpx.post(running.url + "/transactions", json=body, headers=BEARER)
    assert stored.status_code == 200, stored.text


def listed(message: dict[str, Any]) -> list[str]:
    """The ref_ids listed, in the order shown."""
    return [
        block["accessory"]["value"].split(" ")[-1]
        for block in message["blocks"]
        if block.get("accessory", {}).get("action_id") == "check_found"
    ]


@pytest.fixture
def finding(
    start_bot: Callable[..., RunningBot], database_url: str, fake_iak: FakeIak
) -> RunningBot:
    """A bot holding one customer's three top-ups (in three spellings of the number, over
    three hours), a PLN token, a postpaid bill of the same number and a stranger's top-up."""
    running = start_bot(
        database_url=database_url, ingest_token=INGEST_TOKEN, iak_base_url=fake_iak.url
    )
    now = datetime.now(UTC).replace(microsecond=0)
    ingest(running, "find-old", now - timedelta(hours=3), customer_id="0812-3450-0001")
    ingest(running, "find-mid", now - timedelta(hours=2), customer_id="6281234500001", tr_id=7001)
    ingest(running, "find-new", now - timedelta(hours=1), customer_id="+62 812 3450 0001")
    ingest(running, "find-other", now - timedelta(minutes=30), customer_id="081299990000")
    ingest(
        running,
        "find-pln",
        now - timedelta(minutes=20),
        customer_id="32127971177",
        product_code="pln20",
    )
    # IAK's callback delivers the token
    delivered = httpx.post(
        running.url + "/iak/callback",
        json=callback_body("find-pln", product_code="pln20", customer_id="32127971177", sn=PLN_SN),
    )
    assert delivered.status_code == 200, delivered.text
    bill = postpaid_answer("find-bill", hp=NUMBER)
    bill["created_at"] = (now - timedelta(minutes=10)).isoformat()
    paid = httpx.post(running.url + "/transactions", json=bill, headers=BEARER)
    assert paid.status_code == 200, paid.text
    return running


def test_every_spelling_of_a_number_finds_the_same_transactions_newest_first(
    finding: RunningBot,
) -> None:
    answers = [answer(finding.slack.command(f"find {typed}")) for typed in SPELLINGS]
    for message in answers:
        assert_valid(message)
    orders = [listed(message) for message in answers]
    assert orders[0][-3:] == ["find-new", "find-mid", "find-old"]
    assert all(order == orders[0] for order in orders)
    shown = visible_text(answers[0])
    assert "find-other" not in shown
    assert "Success" in visible_text(answer(finding.slack.command("find find-pln")))
    for message in answers:
        dumped = json.dumps(message)
        # masked in the list, and the number as typed too
        for typed in SPELLINGS:
            assert typed not in dumped and json.dumps(typed)[1:-1] not in dumped
        assert "0812345" not in dumped and "6281234" not in dumped
    assert "***001" in shown
    assert "WIB" in shown and "xld25000" in shown and "prepaid" in shown


def test_a_postpaid_bill_of_the_number_is_found_too(finding: RunningBot) -> None:
    message = answer(finding.slack.command(f"find {NUMBER}"))
    assert listed(message) == ["find-bill", "find-new", "find-mid", "find-old"]
    assert "postpaid" in visible_text(message)
    (bill,) = [block for block in message["blocks"] if "find-bill" in json.dumps(block)]
    assert bill["accessory"]["value"] == "postpaid find-bill"  # checked on IAK's postpaid API


def test_a_serial_is_found_whole_or_by_its_last_digits(finding: RunningBot) -> None:
    for typed in (PLN_SN, TOKEN, TOKEN.replace("-", ""), "90123456-7890", "34567890"):
        message = answer(finding.slack.command(f"find {typed}"))
        assert listed(message) == ["find-pln"], typed
        assert TOKEN.replace("-", "")[4:16] not in json.dumps(message)
    # fewer than 8 digits is not a serial's end
    assert listed(answer(finding.slack.command("find 4567890"))) == []


def test_tr_id_and_ref_id_find_their_transaction(finding: RunningBot) -> None:
    by_tr_id = answer(finding.slack.command("find 7001"))
    assert listed(by_tr_id) == ["find-mid"]
    assert "7001" in by_tr_id["blocks"][0]["text"]["text"]  # a tr_id is shown as typed
    assert listed(answer(finding.slack.command("find find-old"))) == ["find-old"]


def test_nothing_found_says_so(finding: RunningBot) -> None:
    message = answer(finding.slack.command("find 0899-0000-1111"))
    assert_valid(message)
    assert listed(message) == []
    shown = visible_text(message)
    assert "No stored transaction matches 0899***111" in shown
    assert "0000" not in json.dumps(message)


def test_a_listed_transactions_check_asks_iak_and_keeps_the_list(
    finding: RunningBot, fake_iak: FakeIak
) -> None:
    fake_iak.add(transaction("find-new", "success"))
    message = answer(finding.slack.command(f"find {NUMBER}"))
    (button,) = [
        block["accessory"]
        for block in message["blocks"]
        if block.get("accessory", {}).get("value") == "find-new"
    ]
    assert button["text"]["text"] == "Check at IAK"
    clicked = finding.slack.action(button["action_id"], button["value"], response_key="chk")
    assert clicked.status_code == 200
    (card,) = finding.fake_slack.wait_for_response("chk")
    assert card.get("replace_original") is False  # the list stays
    assert "Success" in visible_text(card)
    assert len(fake_iak.calls_for("find-new")) == 1


def test_the_log_says_who_searched_never_the_number(
    finding: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for typed in SPELLINGS:
        answer(finding.slack.command(f"find {typed}", user_id="U0SEARCHER"))
    logged = caplog.text
    assert "U0SEARCHER" in logged and "/iak find" in logged
    for typed in SPELLINGS:
        assert typed not in logged
    assert "34500001" not in logged.replace(" ", "").replace("-", "")


def test_an_empty_or_too_long_search_gets_the_usage(finding: RunningBot) -> None:
    assert "/iak find 0812-3450-0001" in visible_text(answer(finding.slack.command("find")))
    too_long = visible_text(answer(finding.slack.command("find " + "9" * 101)))
    assert "too long" in too_long
    # a control character (Postgres refuses a NUL in a query) finds nothing, no error
    controls = visible_text(answer(finding.slack.command("find find-\x00old\x1b")))
    assert listed(answer(finding.slack.command("find find-\x00old\x1b"))) == ["find-old"]
    assert "\x1b" not in controls and "\x00" not in controls


def test_find_is_refused_to_who_may_not_see_transactions(
    start_bot: Callable[..., RunningBot],
) -> None:
    running = start_bot(allowed_users="U0ALLOWED")
    refused = visible_text(answer(running.slack.command(f"find {NUMBER}", user_id="U0STRANGER")))
    assert "Transactions matching" not in refused
    assert "only show transaction details to the ops team" in refused
    allowed = visible_text(answer(running.slack.command(f"find {NUMBER}", user_id="U0ALLOWED")))
    assert "No stored transaction matches" in allowed


def test_searching_again_at_once_is_told_to_wait(start_bot: Callable[..., RunningBot]) -> None:
    running = start_bot(check_cooldown=CHECK_COOLDOWN)
    first = visible_text(answer(running.slack.command(f"find {NUMBER}")))
    assert "No stored transaction matches" in first
    again = visible_text(answer(running.slack.command(f"find {NUMBER}")))
    assert "searched a moment ago" in again
