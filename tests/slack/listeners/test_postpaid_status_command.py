"""Scenario: `/iak status pp <ref_id>` and its Recheck over signed HTTP, against a fake IAK
that serves the postpaid API and checks its sign.

What is asserted is what people and services notice: the ack Slack gets (and how fast),
the card posted to response_url, and the requests IAK received.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.outcomes import Line, Outcome
from bot.registry import Registry
from tests.support.bot import IAK_API_KEY, IAK_USERNAME, RunningBot, bot_server
from tests.support.fakes.iak import (
    POSTPAID_IP_NOT_ALLOWED,
    POSTPAID_NOT_FOUND,
    POSTPAID_WRONG_SIGN,
    FakeIak,
    IakReply,
    bill,
    postpaid,
)
from tests.support.iak import SHORT, SLACK_ACK_DEADLINE
from tests.support.messages import answer, assert_valid, visible_text

# scenario tests: the bot runs whole, over loopback or as processes
pytestmark = pytest.mark.slow

CUSTOMER = "6391601202"
BILL_NAME = "JAORAH"


@dataclass
class PostpaidBot:
    """One bot for the module; its prepaid and postpaid IAK are the same fake."""

    running: RunningBot
    iak: FakeIak


@pytest.fixture(scope="module")
def postpaid_bot(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[PostpaidBot]:
    with (
        FakeIak(IAK_USERNAME, IAK_API_KEY) as iak,
        bot_server(
            registry,
            tmp_path_factory.mktemp("postpaid"),
            sqlite_template,
            iak_limits=SHORT,
            iak_base_url=iak.url,
            iak_postpaid_base_url=iak.url,
        ) as running,
    ):
        yield PostpaidBot(running, iak)


@dataclass(frozen=True)
class Case:
    """One thing IAK's postpaid API can do, and what the user must read because of it."""

    name: str
    script: Callable[[FakeIak, str], None]
    expect: tuple[str, ...]


def known(outcome: str, **fields: Any) -> Callable[[FakeIak, str], None]:
    return lambda fake, ref_id: fake.add_bill(bill(ref_id, outcome, **fields))


def always(reply: IakReply) -> Callable[[FakeIak, str], None]:
    return lambda fake, ref_id: fake.always(postpaid(ref_id), reply)


CASES = [
    Case(
        "paid",
        known("success"),
        (
            "Paid",
            "TELKOMPSTN",
            "63***202",
            "J***",
            "May 2014, Jun 2014, Jul 2014 (3 months)",
            "Rp129.610",
            "Rp7.500",
            "Rp137.110",
            "9732795",
            "1609626",
            "response_code 00 · PAYMENT SUCCESS",
            "Taken from the deposit: Rp133.510",
            "IAK's time: 3 Aug 2018 17:16:08 WIB",
            "From IAK's postpaid response-code table: Postpaid 00",
            "Nothing to do",
        ),
    ),
    Case(
        "not-paid",
        known("not_paid"),
        ("Not paid: IAK never received the payment", "Postpaid 42", "no new ref_id"),
    ),
    Case("in-process", known("pending"), ("In process", "Postpaid 39", "Wait")),
    Case(
        "failed",
        known("failed", message=f"PEMBAYARAN {CUSTOMER} {BILL_NAME} GAGAL"),
        ("Payment failed", "Postpaid 37", "PEMBAYARAN 63***202 J*** GAGAL", "Retry later"),
    ),
    Case(
        "not-found-400",
        lambda fake, ref_id: None,  # the fake answers an unknown postpaid ref_id with 06
        (
            "Not found at IAK development",
            "no postpaid bill payment with this ref_id",
            "IAK_ENV=development",
            "/iak status <ref_id>",
        ),
    ),
    Case(
        "not-found-200",
        always(IakReply(200, POSTPAID_NOT_FOUND)),
        ("Not found at IAK development", "INQUIRY ID NOT FOUND"),
    ),
    Case(
        "wrong-sign-100",
        always(IakReply(400, POSTPAID_WRONG_SIGN)),
        (
            "rejected the bot's own credentials",
            "response_code 100",
            "IAK_USERNAME",
            "IAK_API_KEY",
            "Postpaid 100 · INVALID SIGNATURE",
        ),
    ),
    Case(
        "ip-102",
        always(IakReply(400, POSTPAID_IP_NOT_ALLOWED)),
        ("outbound IP address", "response_code 102", "https://developer.iak.id/prod-setting"),
    ),
    Case(
        "unknown-code",
        always(IakReply(200, {"response_code": "555", "message": "HUH"})),
        ("not in IAK's postpaid table", "Treat the bill payment as pending"),
    ),
    Case(
        "5xx",
        always(IakReply(503, raw=b"<html>503</html>")),
        ("IAK answered HTTP 503", "3 attempts", "bill payment's outcome is unknown"),
    ),
    Case(
        "hang",
        always(IakReply(200, bill("x"), delay=30)),
        ("IAK did not answer in time", "no answer within 0.3 s"),
    ),
    Case("dropped", always(IakReply(drop=True)), ("Could not reach IAK", "3 attempts")),
    Case(
        "garbage",
        always(IakReply(200, raw=b"\x00\xffnot json")),
        ("IAK's answer could not be read", "outcome is unknown"),
    ),
]


def every_message(running: RunningBot, *acks: dict[str, Any]) -> str:
    """All that reached Slack: the acks and every response_url post, as JSON."""
    posted = [call.args for call in running.fake_slack.calls]
    return json.dumps([*acks, *posted], ensure_ascii=False)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_postpaid_answer_reaches_the_user_as_a_card(
    postpaid_bot: PostpaidBot, case: Case
) -> None:
    running, fake_iak = postpaid_bot.running, postpaid_bot.iak
    ref_id = f"bill-{case.name}"
    case.script(fake_iak, ref_id)

    started = time.monotonic()
    response = running.slack.command(f"status pp {ref_id}", response_key=f"pp-{case.name}")
    ack = answer(response)
    assert time.monotonic() - started < SLACK_ACK_DEADLINE
    assert f"Checking postpaid bill {ref_id} at IAK (development)" in visible_text(ack)

    (card,) = running.fake_slack.wait_for_response(f"pp-{case.name}", timeout=5)
    assert card["response_type"] == "ephemeral"
    assert_valid(card)
    shown = visible_text(card)
    assert f"Postpaid bill {ref_id}" in shown
    for expected in case.expect:
        assert expected in shown, f"{expected!r} missing from the {case.name} card:\n{shown}"
    # The postpaid API was asked, with the postpaid sign; the prepaid one never was.
    (call, *_) = fake_iak.calls_for(postpaid(ref_id))
    assert call.path == "/api/v1/bill/check"
    assert fake_iak.calls_for(ref_id) == []
    raw = every_message(running, ack)
    assert CUSTOMER not in raw
    assert BILL_NAME not in raw


def test_postpaid_is_also_spelled_out(postpaid_bot: PostpaidBot) -> None:
    running, fake_iak = postpaid_bot.running, postpaid_bot.iak
    fake_iak.add_bill(bill("bill-long", "success"))
    running.slack.command("status postpaid bill-long", response_key="long")
    (card,) = running.fake_slack.wait_for_response("long")
    assert "Paid" in visible_text(card)


def test_recheck_of_a_postpaid_card_asks_the_postpaid_api_again(postpaid_bot: PostpaidBot) -> None:
    running, fake_iak = postpaid_bot.running, postpaid_bot.iak
    fake_iak.add_bill(bill("bill777", "pending"))
    running.slack.command("status pp bill777", response_key="pp-first")
    (first,) = running.fake_slack.wait_for_response("pp-first")
    assert "In process" in visible_text(first)
    (button,) = [
        element
        for block in first["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["text"]["text"] == "Recheck"
    ]

    fake_iak.add_bill(bill("bill777", "success"))  # the payment went through meanwhile
    clicked = running.slack.action(button["action_id"], button["value"], response_key="pp-again")
    assert clicked.status_code == 200
    (replaced,) = running.fake_slack.wait_for_response("pp-again")
    assert replaced["replace_original"] is True
    assert "Postpaid bill bill777" in visible_text(replaced)
    assert "Paid" in visible_text(replaced)
    assert len(fake_iak.calls_for(postpaid("bill777"))) == 2
    assert fake_iak.calls_for("bill777") == []


def test_what_a_postpaid_check_learns_is_kept_as_a_postpaid_bill(
    postpaid_bot: PostpaidBot,
) -> None:
    """A person's check is a check-status like the monitor's: the bill it found is stored on
    the postpaid line, so `/iak pending` and the monitor know of it from then on."""
    running, fake_iak = postpaid_bot.running, postpaid_bot.iak
    fake_iak.add_bill(bill("bill-kept", "pending"))
    running.slack.command("status pp bill-kept", response_key="kept")
    running.fake_slack.wait_for_response("kept")
    database = running.bot.services.database
    state = database.transactions.get("bill-kept")
    assert state is not None
    assert state.line is Line.POSTPAID
    assert state.outcome is Outcome.PENDING
    pending = visible_text(answer(running.slack.command("pending")))
    assert "bill-kept" in pending and "(postpaid)" in pending


def test_a_bad_or_missing_ref_id_gets_the_usage_and_iak_is_not_called(
    postpaid_bot: PostpaidBot,
) -> None:
    running, fake_iak = postpaid_bot.running, postpaid_bot.iak
    iak_calls = len(fake_iak.calls)
    missing = visible_text(answer(running.slack.command("status pp")))
    assert "Which postpaid bill?" in missing
    assert "/iak status pp bill001" in missing
    for text in ("status pp two words", "status postpaid " + "x" * 101):
        assert "/iak status pp bill001" in visible_text(answer(running.slack.command(text)))
    time.sleep(0.1)
    assert len(fake_iak.calls) == iak_calls


def test_the_bots_own_wrong_key_is_refused_by_the_fake_as_iak_would(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    running = start_bot(
        iak_base_url=fake_iak.url, iak_postpaid_base_url=fake_iak.url, iak_api_key="prod-key"
    )
    fake_iak.add_bill(bill("bill001"))
    running.slack.command("status pp bill001", response_key="key")
    (card,) = running.fake_slack.wait_for_response("key", timeout=5)
    shown = visible_text(card)
    assert "rejected the bot's own credentials" in shown
    assert "(response_code 100, wrong sign)" in shown
    assert "Paid" not in shown


ANI = "U0ANIJKT1"  # Slack in Bahasa Indonesia


@pytest.mark.parametrize("outcome", ["not_paid", "failed", "pending"])
def test_a_bill_iak_does_not_call_paid_shows_what_it_would_cost_not_what_was_taken(
    postpaid_bot: PostpaidBot, outcome: str
) -> None:
    running, fake_iak = postpaid_bot.running, postpaid_bot.iak
    running.fake_slack.set_locale(ANI, "id-ID")
    ref_id = f"bill-money-{outcome}"
    fake_iak.add_bill(bill(ref_id, outcome))
    running.slack.command(f"status pp {ref_id}", response_key=f"money-{outcome}")
    (card,) = running.fake_slack.wait_for_response(f"money-{outcome}", timeout=5)
    shown = visible_text(card)
    assert "Would cost: Rp133.510" in shown
    assert "Taken from the deposit" not in shown
    assert "deposit after" not in shown

    running.slack.command(f"status pp {ref_id}", user_id=ANI, response_key=f"uang-{outcome}")
    (kartu,) = running.fake_slack.wait_for_response(f"uang-{outcome}", timeout=5)
    shown = visible_text(kartu)
    assert "Mei 2014, Jun 2014, Jul 2014 (3 bulan)" in shown
    assert "Rp133.510" in shown
    assert "Dipotong dari deposit" not in shown


def test_a_paid_bill_shows_what_was_taken_in_the_readers_language(
    postpaid_bot: PostpaidBot,
) -> None:
    running, fake_iak = postpaid_bot.running, postpaid_bot.iak
    running.fake_slack.set_locale(ANI, "id-ID")
    fake_iak.add_bill(bill("bill-money-paid", "success", period="202103"))
    running.slack.command("status pp bill-money-paid", user_id=ANI, response_key="lunas")
    (card,) = running.fake_slack.wait_for_response("lunas", timeout=5)
    shown = visible_text(card)
    assert "Dipotong dari deposit: Rp133.510" in shown
    assert "Mar 2021 (1 bulan)" in shown
    assert "3 Agu 2018 17:16:08 WIB" in shown  # IAK's time, in the reader's language and zone
