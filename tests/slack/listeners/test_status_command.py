"""Scenario: `/iak status`, Recheck and `/iak balance` over signed HTTP, against a fake IAK.

What is asserted is what people and services notice: the ack Slack gets (and how fast),
the card posted to response_url, and the requests IAK received.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.cooldown import CHECK_COOLDOWN
from bot.iak.client import CallLimits
from bot.registry import Registry
from bot.slack.blocks import limits
from tests.support.bot import IAK_API_KEY, IAK_USERNAME, RunningBot, bot_server
from tests.support.fakes.iak import (
    IP_NOT_ALLOWED,
    NOT_FOUND,
    WRONG_SIGN,
    FakeIak,
    IakReply,
    transaction,
)
from tests.support.iak import SHORT, SLACK_ACK_DEADLINE
from tests.support.messages import answer, text_objects, visible_text

# scenario tests: the bot runs whole, over loopback or as processes
pytestmark = pytest.mark.slow

CUSTOMER = "0817777215"
LOW_BALANCE_THRESHOLD = 1_000_000


@dataclass
class StatusBot:
    """One bot for the module, pointed at one fake IAK; each test uses its own ref_ids."""

    running: RunningBot
    iak: FakeIak


@pytest.fixture(scope="module")
def status_bot(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[StatusBot]:
    with (
        FakeIak(IAK_USERNAME, IAK_API_KEY) as iak,
        bot_server(
            registry,
            tmp_path_factory.mktemp("status"),
            sqlite_template,
            iak_limits=SHORT,
            iak_base_url=iak.url,
            low_balance_threshold=LOW_BALANCE_THRESHOLD,
        ) as running,
    ):
        yield StatusBot(running, iak)


@dataclass(frozen=True)
class Case:
    """One thing IAK can do, and what the user must read in the card because of it."""

    name: str
    script: Callable[[FakeIak, str], None]
    expect: tuple[str, ...]


def known(outcome: str, **fields: Any) -> Callable[[FakeIak, str], None]:
    return lambda fake, ref_id: fake.add(transaction(ref_id, outcome, **fields))


def always(reply: IakReply) -> Callable[[FakeIak, str], None]:
    return lambda fake, ref_id: fake.always(ref_id, reply)


CASES = [
    Case(
        "success",
        known("success"),
        ("Success", "08***215", "*Taken from the deposit*\nRp25.000", "3482", "12***89"),
    ),
    Case(
        "pending",
        known("pending"),
        ("Pending", "39 · PROCESS", "Wait", "*Would cost*\nRp25.000"),
    ),
    Case(
        "failed",
        known("failed", message=f"Nomor {CUSTOMER} gagal"),
        ("Failed", "07 · FAILED", "Retry now", "Nomor 08***215 gagal", "*Would cost*\nRp25.000"),
    ),
    Case(
        "not-found-400",
        lambda fake, ref_id: None,  # the fake answers an unknown ref_id like IAK: 06, HTTP 400
        ("Not found at IAK development", "IAK_ENV=development", "sandbox"),
    ),
    Case(
        "not-found-200",
        always(IakReply(200, NOT_FOUND)),
        ("Not found at IAK development", "TRANSACTION NOT FOUND"),
    ),
    Case(
        "wrong-sign-204",
        always(IakReply(400, WRONG_SIGN)),
        ("rejected the bot's own credentials", "IAK_USERNAME", "IAK_API_KEY", "IAK_ENV"),
    ),
    Case(
        "ip-102",
        always(IakReply(400, IP_NOT_ALLOWED)),
        ("outbound IP address", "static-IP add-on", "https://developer.iak.id/prod-setting"),
    ),
    Case(
        "v1-names",
        always(
            IakReply(
                200,
                {"ref_id": "x", "status": 1, "code": "hindosat5000", "hp": CUSTOMER, "rc": "00"},
            )
        ),
        ("Success", "hindosat5000", "08***215"),
    ),
    Case(
        "string-status",
        always(IakReply(200, {**transaction("x", "failed"), "status": "2", "price": "25000"})),
        ("Failed", "Rp25.000"),
    ),
    Case(
        "5xx",
        always(IakReply(503, raw=b"<html>503 Service Unavailable</html>")),
        ("IAK answered HTTP 503", "3 attempts", "outcome is unknown", "treat it as pending"),
    ),
    Case(
        "hang",
        always(IakReply(200, transaction("x"), delay=30)),
        ("IAK did not answer in time", "no answer within 0.3 s", "outcome is unknown"),
    ),
    Case(
        "dropped",
        always(IakReply(drop=True)),
        ("Could not reach IAK", "3 attempts", "outcome is unknown"),
    ),
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
def test_each_iak_answer_reaches_the_user_as_a_card(status_bot: StatusBot, case: Case) -> None:
    running, fake_iak = status_bot.running, status_bot.iak
    ref_id = f"order-{case.name}"
    case.script(fake_iak, ref_id)

    started = time.monotonic()
    response = running.slack.command(f"status {ref_id}", response_key=case.name)
    acked_in = time.monotonic() - started
    ack = answer(response)
    assert acked_in < SLACK_ACK_DEADLINE
    assert f"Checking {ref_id} at IAK (development)" in visible_text(ack)

    (card,) = running.fake_slack.wait_for_response(case.name, timeout=5)
    assert card["response_type"] == "ephemeral"
    assert limits.problems(card) == []
    shown = visible_text(card)
    assert f"Transaction {ref_id}" in shown
    for expected in case.expect:
        assert expected in shown, f"{expected!r} missing from the {case.name} card:\n{shown}"
    assert fake_iak.calls_for(ref_id)
    assert CUSTOMER not in every_message(running, ack)


def test_ack_is_immediate_while_iak_takes_longer_than_slacks_deadline(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    # Default client limits (10 s deadline): this IAK is slow, not broken.
    running = start_bot(iak_base_url=fake_iak.url)
    fake_iak.always("slow001", IakReply(200, transaction("slow001"), delay=3.1))

    started = time.monotonic()
    response = running.slack.command("status slow001", response_key="slow")
    acked_in = time.monotonic() - started
    assert response.status_code == 200
    assert acked_in < SLACK_ACK_DEADLINE

    # While that check waits on IAK, the bot keeps answering everything else at once.
    for _ in range(5):
        before = time.monotonic()
        assert "17 · INSUFFICIENT DEPOSIT" in visible_text(answer(running.slack.command("code 17")))
        assert time.monotonic() - before < SLACK_ACK_DEADLINE

    (card,) = running.fake_slack.wait_for_response("slow", timeout=8)
    delivered_in = time.monotonic() - started
    assert delivered_in >= 3.1  # the card waited for IAK; the ack did not
    assert "Success" in visible_text(card)


def test_recheck_replaces_the_card(status_bot: StatusBot) -> None:
    running, fake_iak = status_bot.running, status_bot.iak
    fake_iak.add(transaction("order777", "pending"))
    running.slack.command("status order777", response_key="first")
    (first,) = running.fake_slack.wait_for_response("first")
    assert "Pending" in visible_text(first)
    assert first.get("replace_original") is False
    (button,) = [
        element
        for block in first["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["text"]["text"] == "Recheck"
    ]

    fake_iak.add(transaction("order777", "success"))  # IAK finished meanwhile
    started = time.monotonic()
    clicked = running.slack.action(button["action_id"], button["value"], response_key="again")
    assert clicked.status_code == 200
    assert time.monotonic() - started < SLACK_ACK_DEADLINE
    (replaced,) = running.fake_slack.wait_for_response("again")
    assert replaced["replace_original"] is True
    assert "Success" in visible_text(replaced)
    assert len(fake_iak.calls_for("order777")) == 2


def test_bad_ref_id_gets_the_usage_and_iak_is_not_called(status_bot: StatusBot) -> None:
    running, fake_iak = status_bot.running, status_bot.iak
    iak_calls, slack_calls = len(fake_iak.calls), len(running.fake_slack.calls)
    for text in ("status", "status two words", "status " + "x" * 101, "status pesanan№1"):
        shown = visible_text(answer(running.slack.command(text)))
        assert "/iak status order001" in shown, text
        assert "/iak code 17" not in shown  # just the line that helps, not the whole list
    time.sleep(0.1)  # anything spawned would have reached IAK by now
    assert len(fake_iak.calls) == iak_calls
    assert len(running.fake_slack.calls) == slack_calls


def test_without_iak_credentials_the_answer_names_the_settings(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    running = start_bot(iak_base_url=fake_iak.url, iak_username=None, iak_api_key=None)
    for text in ("status order001", "balance"):
        shown = visible_text(answer(running.slack.command(text)))
        assert "IAK_USERNAME" in shown
        assert "IAK_API_KEY" in shown
    # A Recheck on an old card says the same, in a new message.
    assert running.slack.action("recheck_status", "order001", response_key="re").status_code == 200
    (message,) = running.fake_slack.wait_for_response("re")
    assert "IAK_API_KEY" in visible_text(message)
    # The rest of the bot still works without them.
    assert "17 · INSUFFICIENT DEPOSIT" in visible_text(answer(running.slack.command("code 17")))
    assert fake_iak.calls == []


def test_balance(status_bot: StatusBot) -> None:
    running, fake_iak = status_bot.running, status_bot.iak
    ack = answer(running.slack.command("balance", response_key="bal"))
    assert "deposit balance" in visible_text(ack)
    (card,) = running.fake_slack.wait_for_response("bal")
    assert limits.problems(card) == []
    assert "Rp997.136.249" in visible_text(card)
    assert "Low deposit" not in visible_text(card)
    assert "threshold: Rp1.000.000" in visible_text(card)
    (call,) = fake_iak.calls_for("balance")
    assert call.path == "/api/check-balance"


def test_low_balance_is_said_prominently(status_bot: StatusBot) -> None:
    running, fake_iak = status_bot.running, status_bot.iak
    fake_iak.script("balance", IakReply(200, {"balance": "250000", "rc": "00"}))
    running.slack.command("balance", response_key="low")
    (card,) = running.fake_slack.wait_for_response("low")
    assert card["text"].startswith("LOW DEPOSIT: Rp250.000 is below Rp1.000.000")
    assert "Low deposit" in card["blocks"][1]["text"]["text"]


def test_the_card_shows_what_the_bot_saw_and_the_check_is_recorded(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    running = start_bot(iak_base_url=fake_iak.url, ingest_token="t0ken")
    pending = {"data": transaction("hist001", "pending")}
    stored = httpx.post(
        running.url + "/transactions", json=pending, headers={"Authorization": "Bearer t0ken"}
    )
    assert stored.status_code == 200
    fake_iak.always("hist001", IakReply(200, transaction("hist001", "failed")))

    running.slack.command("status hist001", response_key="hist")
    (card,) = running.fake_slack.wait_for_response("hist", timeout=5)
    shown = visible_text(card)
    assert "First seen by the bot" in shown
    assert "merchant backend: Pending" in shown
    assert "status check: Failed" in shown

    database = running.bot.services.database
    state = database.transactions.get("hist001")
    assert state is not None and state.outcome.value == "failed"
    sources = [event.source.value for event in database.transactions.history("hist001").events]
    assert sources == ["ingest", "status_check"]


def test_a_ref_id_the_bot_never_saw_says_so_and_stores_nothing_on_not_found(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    running = start_bot(iak_base_url=fake_iak.url)
    fake_iak.always("typo001", NOT_FOUND)
    running.slack.command("status typo001", response_key="typo")
    (card,) = running.fake_slack.wait_for_response("typo", timeout=5)
    assert "no record of this ref_id" in visible_text(card)
    assert running.bot.services.database.transactions.get("typo001") is None


def test_a_failure_after_the_ack_replaces_checking_with_an_error_card(
    status_bot: StatusBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug behind the ack (here: the card cannot be built) must not leave the person
    looking at "Checking…" for ever: the error card takes its place, with the id that the
    request's log lines carry."""
    running = status_bot.running
    status_bot.iak.add(transaction("broken1", "success"))

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug in the card")

    monkeypatch.setattr("bot.slack.listeners.checks.check_card", broken)
    response = running.slack.command("status broken1", response_key="broken")
    assert "Checking broken1" in visible_text(answer(response))
    (posted,) = running.fake_slack.wait_for_response("broken")
    assert posted["replace_original"] is True
    shown = visible_text(posted)
    assert "failed on our side" in shown
    assert response.headers["x-request-id"] in shown


def test_iak_never_sees_more_than_a_few_requests_at_once(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    """Twenty people asking at once, while IAK is slow: IAK is asked a few at a time, and
    every card still arrives."""
    limits = CallLimits(connect_timeout=1, deadline=5, backoff=0.01)
    running = start_bot(iak_limits=limits, iak_base_url=fake_iak.url)
    for n in range(20):
        fake_iak.add(transaction(f"crowd{n}", "success"))
    fake_iak.delay = 0.1
    with ThreadPoolExecutor(20) as pool:
        acks = list(
            pool.map(
                lambda n: running.slack.command(f"status crowd{n}", response_key=f"crowd{n}"),
                range(20),
            )
        )
    assert {ack.status_code for ack in acks} == {200}
    for n in range(20):
        (card,) = running.fake_slack.wait_for_response(f"crowd{n}", timeout=10)
        assert "Success" in visible_text(card)
    assert fake_iak.max_in_flight <= limits.max_in_flight


def test_a_crowd_past_the_cap_is_told_the_bot_is_busy_not_that_iak_failed(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    """More people than the cap can serve before the deadline, while IAK is very slow: the
    ones whose check never got a slot are told the bot was busy and to try again, IAK never
    hears of them, and no one is left looking at "Checking…"."""
    limits = CallLimits(connect_timeout=1, deadline=2, backoff=0.01, max_in_flight=2)
    running = start_bot(iak_limits=limits, iak_base_url=fake_iak.url)
    for n in range(4):
        fake_iak.add(transaction(f"jam{n}", "success"))
    fake_iak.delay = 4
    with ThreadPoolExecutor(4) as pool:
        list(
            pool.map(
                lambda n: running.slack.command(f"status jam{n}", response_key=f"jam{n}"),
                range(4),
            )
        )
    shown = [
        visible_text(running.fake_slack.wait_for_response(f"jam{n}", timeout=10)[0])
        for n in range(4)
    ]
    assert sum("IAK did not answer in time" in text for text in shown) == 2
    busy = [text for text in shown if "Too many checks at IAK at once" in text]
    assert len(busy) == 2
    assert all("try again in a minute" in text and "treat it as pending" in text for text in busy)
    assert len(fake_iak.calls) == 2


def test_a_recheck_button_cannot_be_turned_into_a_flood(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    running = start_bot(iak_base_url=fake_iak.url, check_cooldown=CHECK_COOLDOWN)
    fake_iak.add(transaction("flood1", "pending"))
    for n in range(5):
        running.slack.action("recheck_status", "flood1", user_id="U0CLICKER", response_key=f"f{n}")
    answers = [running.fake_slack.wait_for_response(f"f{n}")[0] for n in range(5)]
    assert len(fake_iak.calls_for("flood1")) == 1
    told = [visible_text(answer) for answer in answers]
    assert sum("try again in" in text for text in told) == 4
    # someone else may still recheck it
    running.slack.action("recheck_status", "flood1", user_id="U0OTHER", response_key="other")
    running.fake_slack.wait_for_response("other")
    assert len(fake_iak.calls_for("flood1")) == 2


def test_outside_text_in_a_card_never_becomes_a_link_or_a_channel(status_bot: StatusBot) -> None:
    """IAK's message with a bare URL and a #channel: every mrkdwn text object of the card is
    verbatim, so Slack shows them as text instead of linking them."""
    running, iak = status_bot.running, status_bot.iak
    iak.add(
        transaction(
            "verbatim1",
            "failed",
            message="see https://evil.example/pay and tell #general @channel",
        )
    )
    running.slack.command("status verbatim1", response_key="verbatim")
    (card,) = running.fake_slack.wait_for_response("verbatim", timeout=5)
    assert "https://evil.example/pay" in visible_text(card)
    mrkdwn = [item for item in text_objects(card["blocks"]) if item["type"] == "mrkdwn"]
    assert mrkdwn
    assert all(item.get("verbatim") is True for item in mrkdwn), mrkdwn


def test_status_balance_and_recheck_share_one_cooldown_per_person(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    """One person cannot hold every slot at IAK by typing instead of clicking."""
    running = start_bot(iak_base_url=fake_iak.url, check_cooldown=CHECK_COOLDOWN)
    for ref_id in ("cool1", "cool2"):
        fake_iak.add(transaction(ref_id, "pending"))
    first = answer(running.slack.command("status cool1", user_id="U0TYPIST", response_key="s1"))
    assert "Checking cool1" in visible_text(first)
    running.fake_slack.wait_for_response("s1")
    for text in ("status cool2", "balance", "status pp bill1"):
        refused = visible_text(answer(running.slack.command(text, user_id="U0TYPIST")))
        assert "You asked IAK a moment ago: try again in" in refused
    running.slack.action("recheck_status", "cool1", user_id="U0TYPIST", response_key="re")
    (recheck,) = running.fake_slack.wait_for_response("re")
    assert "try again in" in visible_text(recheck)
    assert len(fake_iak.calls) == 1  # cool1's first check, nothing since
    # another person is not held back by this one
    other = answer(running.slack.command("balance", user_id="U0OTHER", response_key="b"))
    assert "try again" not in visible_text(other)
    running.fake_slack.wait_for_response("b")
