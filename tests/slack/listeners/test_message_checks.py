"""Scenario: the "Check at IAK" message shortcut over signed HTTP, against a fake IAK.

Someone uses the shortcut on a message in which a CS agent pasted ref_ids; what is
asserted is what they and IAK notice: an immediate ack, one status card per ref_id posted
to the shortcut's response_url (stored ones first, at most five), and the checks IAK got.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from bot.cooldown import CHECK_COOLDOWN
from tests.support.bot import RunningBot
from tests.support.fakes.iak import FakeIak, IakReply, bill, postpaid, transaction
from tests.support.iak import SLACK_ACK_DEADLINE
from tests.support.intake import INGEST_TOKEN, postpaid_answer, topup_answer
from tests.support.messages import header, visible_text

# scenario tests: the bot runs whole, over loopback
pytestmark = pytest.mark.slow


def ingest(bot: RunningBot, body: dict[str, object]) -> None:
    """The merchant backend reports a transaction, as it does before anyone asks."""
    stored = httpx.post(
        bot.url + "/transactions", json=body, headers={"Authorization": f"Bearer {INGEST_TOKEN}"}
    )
    assert stored.status_code == 200, stored.text


def checked_ref_ids(fake_iak: FakeIak) -> list[str | None]:
    return [call.ref_id for call in fake_iak.calls]


def test_each_ref_id_gets_its_card_stored_ones_first_on_their_own_line(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak, database_url: str
) -> None:
    bot = start_bot(
        database_url=database_url,
        ingest_token=INGEST_TOKEN,
        iak_base_url=fake_iak.url,
        iak_postpaid_base_url=fake_iak.url,
    )
    # the backend reported bill-9 (a postpaid bill), never ORD-78
    ingest(bot, postpaid_answer("bill-9"))
    fake_iak.add(transaction("ORD-78", "failed"))
    fake_iak.add_bill(bill("bill-9"))

    started = time.monotonic()
    response = bot.slack.message_shortcut("cek ORD-78 sama bill-9 ya kak", response_key="two")
    assert response.status_code == 200
    assert time.monotonic() - started < SLACK_ACK_DEADLINE

    first, second = bot.fake_slack.wait_for_response("two", count=2)
    assert header(first) == "Postpaid bill bill-9"
    assert "Paid" in visible_text(first)
    assert header(second) == "Transaction ORD-78"
    assert "Failed" in visible_text(second)
    assert all(card["response_type"] == "ephemeral" for card in (first, second))
    # bill-9 went to the postpaid API because the store knows it as a bill
    assert len(fake_iak.calls_for(postpaid("bill-9"))) == 1
    assert len(fake_iak.calls_for("ORD-78")) == 1
    # and the checks are recorded like /iak status's
    stored = bot.bot.services.database.transactions.get("ORD-78")
    assert stored is not None and stored.outcome.value == "failed"


def test_at_most_five_are_checked_and_the_last_card_says_how_many_more(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak, database_url: str
) -> None:
    bot = start_bot(database_url=database_url, ingest_token=INGEST_TOKEN, iak_base_url=fake_iak.url)
    ingest(bot, topup_answer("ORD-7"))
    ingest(bot, topup_answer("ORD-6"))
    for n in range(1, 8):
        fake_iak.add(transaction(f"ORD-{n}", "pending"))

    text = "tolong cek " + " ".join(f"ORD-{n}" for n in range(1, 8))
    bot.slack.message_shortcut(text, response_key="many")
    cards = bot.fake_slack.wait_for_response("many", count=5)

    headers = [header(card) for card in cards]
    assert headers == [f"Transaction ORD-{n}" for n in (6, 7, 1, 2, 3)]
    assert sorted(filter(None, checked_ref_ids(fake_iak))) == [
        "ORD-1",
        "ORD-2",
        "ORD-3",
        "ORD-6",
        "ORD-7",
    ]
    assert "names 7 ref_ids; the first 5 were checked" in visible_text(cards[-1])
    assert "names 7" not in visible_text(cards[0])
    assert len(bot.fake_slack.responses("many")) == 5  # response_url takes five posts


def test_a_message_naming_no_ref_id_says_so_and_iak_is_not_asked(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    bot = start_bot(iak_base_url=fake_iak.url)
    bot.slack.message_shortcut("pulsa belum masuk kak, tolong dicek ya", response_key="none")
    (answer,) = bot.fake_slack.wait_for_response("none")
    assert "I found no ref_id in this message" in visible_text(answer)
    assert answer["response_type"] == "ephemeral"
    assert fake_iak.calls == []


def test_the_answer_is_in_the_persons_language(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    bot = start_bot(iak_base_url=fake_iak.url)
    bot.fake_slack.set_locale("U0AGEN", "id-ID")
    bot.slack.message_shortcut("belum masuk", user_id="U0AGEN", response_key="id")
    (answer,) = bot.fake_slack.wait_for_response("id")
    assert "Saya tidak menemukan ref_id" in visible_text(answer)


@pytest.mark.parametrize(
    ("settings", "who"),
    [
        ({"allowed_users": ["U0LEAD"]}, {"user_id": "U0STRANGER"}),
        ({"allowed_channels": ["C0OPS0001"]}, {"channel_id": "C0RANDOM"}),
        ({}, {"team_id": "T0OTHERORG"}),
    ],
    ids=["user", "channel", "workspace"],
)
def test_someone_not_allowed_is_refused_and_nothing_is_read_or_asked(
    start_bot: Callable[..., RunningBot],
    fake_iak: FakeIak,
    settings: dict[str, object],
    who: dict[str, str],
) -> None:
    bot = start_bot(iak_base_url=fake_iak.url, **settings)
    fake_iak.add(transaction("ORD-77"))
    response = bot.slack.message_shortcut("cek ORD-77", response_key="no", **who)
    assert response.status_code == 200
    (refusal,) = bot.fake_slack.wait_for_response("no")
    assert "I only show transaction details to the ops team" in visible_text(refusal)
    assert "ORD-77" not in visible_text(refusal)
    assert fake_iak.calls == []


def test_the_shortcut_shares_the_check_cooldown_with_iak_status(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    bot = start_bot(iak_base_url=fake_iak.url, check_cooldown=CHECK_COOLDOWN)
    fake_iak.add(transaction("cool-1", "pending"))
    fake_iak.add(transaction("cool-2", "pending"))
    bot.slack.command("status cool-1", user_id="U0TYPIST", response_key="s")
    bot.fake_slack.wait_for_response("s")
    bot.slack.message_shortcut("cek cool-2", user_id="U0TYPIST", response_key="m")
    (told,) = bot.fake_slack.wait_for_response("m")
    assert "You asked IAK a moment ago: try again in" in visible_text(told)
    assert checked_ref_ids(fake_iak) == ["cool-1"]


def test_the_ack_does_not_wait_for_a_slow_iak(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    bot = start_bot(iak_base_url=fake_iak.url)
    fake_iak.always("slow-1", IakReply(200, transaction("slow-1"), delay=3.1))
    started = time.monotonic()
    response = bot.slack.message_shortcut("cek slow-1", response_key="slow")
    assert response.status_code == 200
    assert time.monotonic() - started < SLACK_ACK_DEADLINE
    (card,) = bot.fake_slack.wait_for_response("slow", timeout=8)
    assert time.monotonic() - started >= 3.1
    assert "Success" in visible_text(card)
