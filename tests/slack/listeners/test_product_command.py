"""Scenario: `/iak product` and its buttons over signed HTTP, against a fake IAK that serves
both price lists and checks their sign.

What is asserted is what people and services notice: the ack (and how fast), what reached
response_url, what IAK was asked and how often, and what the database holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.schema import price_lists
from tests.support.bot import RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.iak import (
    POSTPAID_PRICE_LIST,
    PREPAID_PRICE_LIST,
    FakeIak,
    IakReply,
    iak_sign,
    prepaid_product,
    transaction,
)
from tests.support.iak import SHORT, SLACK_ACK_DEADLINE
from tests.support.messages import answer, assert_valid, visible_text

Start = Callable[..., RunningBot]


@pytest.fixture
def start(start_bot: Start, fake_iak: FakeIak, clock: FakeClock) -> Start:
    """A bot whose prepaid and postpaid IAK are the fake, on the test's clock."""

    def run(**overrides: Any) -> RunningBot:
        settings: dict[str, Any] = {
            "iak_base_url": fake_iak.url,
            "iak_postpaid_base_url": fake_iak.url,
            "iak_limits": SHORT,
            "clock": clock,
            **overrides,
        }
        return start_bot(**settings)

    return run


def price_list_calls(fake_iak: FakeIak) -> tuple[int, int]:
    return len(fake_iak.calls_for(PREPAID_PRICE_LIST)), len(fake_iak.calls_for(POSTPAID_PRICE_LIST))


def cached_rows(running: RunningBot) -> dict[str, tuple[int, str | None]]:
    """What the database holds: products per list, and the last error."""
    engine = running.bot.services.database.engine
    with engine.connect() as connection:
        rows = connection.execute(
            select(price_lists.c.line, price_lists.c.products, price_lists.c.error)
        ).all()
    return {row.line: (len(row.products or []), row.error) for row in rows}


def command(running: RunningBot, text: str, key: str) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    ack = answer(running.slack.command(text, response_key=key))
    return ack, time.monotonic() - started


def test_first_answer_fetches_both_lists_and_caches_them(start: Start, fake_iak: FakeIak) -> None:
    running = start()
    ack, took = command(running, "product xld25000", "first")
    assert took < SLACK_ACK_DEADLINE
    assert "Fetching IAK's price list for “xld25000”" in visible_text(ack)

    (card,) = running.fake_slack.wait_for_response("first")
    assert_valid(card)
    shown = visible_text(card)
    for expected in ("xld25000 · XL", "Active", "Rp24.925", "25000", "30 days", "Prepaid"):
        assert expected in shown, expected
    assert "IAK prepaid price list (development), fetched 0 s ago" in shown
    # Each list was asked once, signed as IAK checks it.
    (prepaid,) = fake_iak.calls_for(PREPAID_PRICE_LIST)
    (postpaid,) = fake_iak.calls_for(POSTPAID_PRICE_LIST)
    for call in (prepaid, postpaid):
        assert call.body["sign"] == iak_sign(call.body["username"], "test-iak-api-key", "pl")
        assert call.body["status"] == "all"
    assert postpaid.body["commands"] == "pricelist-pasca"
    assert cached_rows(running) == {
        "prepaid": (len(fake_iak.prepaid_products), None),
        "postpaid": (len(fake_iak.postpaid_products), None),
    }


def test_a_fresh_list_answers_in_the_ack_and_every_process_shares_it(
    start: Start, fake_iak: FakeIak, clock: FakeClock
) -> None:
    running = start()
    command(running, "product xld25000", "warm")
    running.fake_slack.wait_for_response("warm")
    assert price_list_calls(fake_iak) == (1, 1)

    clock.advance(minutes=9)
    ack, took = command(running, "product htelkomsel25000", "again")
    assert took < SLACK_ACK_DEADLINE
    shown = visible_text(ack)  # the card itself, in the ack
    assert "htelkomsel25000 · Telkomsel" in shown
    assert "fetched 9 min ago" in shown
    # Another process on the same database answers from it too: IAK is not asked.
    other = start(database_url=running.bot.services.settings.database_url)
    assert "BPJS · BPJS Kesehatan" in visible_text(answer(other.slack.command("product bpjs")))
    assert price_list_calls(fake_iak) == (1, 1)

    # Ten minutes after the fetch, the next answer asks IAK again.
    clock.advance(minutes=1)
    ack, _ = command(running, "product xld25000", "refresh")
    assert "Fetching IAK's price list" in visible_text(ack)
    (card,) = running.fake_slack.wait_for_response("refresh")
    assert "fetched 0 s ago" in visible_text(card)
    assert price_list_calls(fake_iak) == (2, 2)


def test_iak_down_answers_from_the_old_copy_and_says_it_is_stale(
    start: Start, fake_iak: FakeIak, clock: FakeClock
) -> None:
    running = start()
    command(running, "product xld25000", "warm")
    running.fake_slack.wait_for_response("warm")
    fake_iak.always(PREPAID_PRICE_LIST, IakReply(503, raw=b"<html>busy</html>"))
    fake_iak.always(POSTPAID_PRICE_LIST, IakReply(503, raw=b"<html>busy</html>"))

    clock.advance(hours=2)
    command(running, "product xld25000", "stale")
    (card,) = running.fake_slack.wait_for_response("stale")
    assert_valid(card)
    shown = visible_text(card)
    assert "IAK's prepaid price list could not be refreshed" in shown
    assert "HTTP 503" in shown
    assert "This copy is 2 h old" in shown
    assert "Rp24.925" in shown  # still answered
    error = "IAK answered with an error (HTTP 503)"
    assert error in shown
    assert cached_rows(running)["prepaid"] == (len(fake_iak.prepaid_products), error)
    asked = price_list_calls(fake_iak)

    # Within a minute of the failure, IAK is not asked again: the stale copy answers at once.
    ack, _ = command(running, "product telkomsel", "stale-again")
    assert "could not be refreshed" in visible_text(ack)
    assert "htelkomsel25000" in visible_text(ack)
    assert price_list_calls(fake_iak) == asked


def test_iak_down_and_no_copy_says_there_is_no_list(start: Start, fake_iak: FakeIak) -> None:
    running = start(iak_base_url="http://127.0.0.1:9", iak_postpaid_base_url="http://127.0.0.1:9")
    command(running, "product xld25000", "none")
    (card,) = running.fake_slack.wait_for_response("none", timeout=5)
    assert_valid(card)
    shown = visible_text(card)
    assert "IAK's price list is not available" in shown
    assert "could not reach IAK" in shown
    assert "The bot has no copy of it yet" in shown
    assert {line: error is not None for line, (_, error) in cached_rows(running).items()} == {
        "prepaid": True,
        "postpaid": True,
    }


def test_the_bots_wrong_key_is_refused_as_iak_would(start: Start, fake_iak: FakeIak) -> None:
    running = start(iak_api_key="the-production-key")
    command(running, "product xld25000", "key")
    (card,) = running.fake_slack.wait_for_response("key")
    shown = visible_text(card)
    assert "IAK rejected the bot's credentials (rc 204: WRONG AUTHENTICATION)" in shown
    assert "(response_code 100: INVALID SIGNATURE)" in shown
    assert "IAK_API_KEY" in shown


def test_words_list_the_matches_and_a_button_opens_one(start: Start) -> None:
    running = start()
    command(running, "product telkomsel", "search")
    (found,) = running.fake_slack.wait_for_response("search")
    assert_valid(found)
    shown = visible_text(found)
    assert "Products matching “telkomsel”" in shown
    assert shown.index("htelkomsel5000") < shown.index("htelkomsel25000")
    assert "`htelkomsel50000` Telkomsel 50000 · Rp49.900 · not active" in shown
    buttons = [e for b in found["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [button["value"] for button in buttons] == [
        "prepaid htelkomsel5000",
        "prepaid htelkomsel25000",
        "prepaid htelkomsel50000",
    ]

    second = buttons[1]
    clicked = running.slack.action(second["action_id"], second["value"], response_key="open")
    assert clicked.status_code == 200
    (card,) = running.fake_slack.wait_for_response("open")
    assert card["replace_original"] is True
    assert "htelkomsel25000 · Telkomsel" in visible_text(card)


def test_the_only_match_opens_its_card_and_nothing_found_says_so(start: Start) -> None:
    running = start()
    command(running, "product telkomsel 25rb", "one")
    (card,) = running.fake_slack.wait_for_response("one")
    assert "The only product matching “telkomsel 25rb”" in visible_text(card)
    assert "htelkomsel25000 · Telkomsel" in visible_text(card)

    nothing = answer(running.slack.command("product smartfren"))  # the lists are cached now
    assert_valid(nothing)
    assert "No product in IAK's price lists matches “smartfren”" in visible_text(nothing)
    typo = visible_text(answer(running.slack.command("product xld2500O")))
    assert "Codes spelled alike" in typo and "xld25000" in typo


def test_postpaid_only(start: Start, fake_iak: FakeIak) -> None:
    running = start()
    command(running, "product pp pdam bogor", "pp")
    (card,) = running.fake_slack.wait_for_response("pp")
    shown = visible_text(card)
    for expected in ("PDAMKAB.BOGOR · PDAM KAB. BOGOR (JABAR)", "Admin fee", "Jawa Barat"):
        assert expected in shown, expected
    assert price_list_calls(fake_iak) == (0, 1)  # the prepaid list was not needed


def test_usage_and_missing_settings(start: Start, fake_iak: FakeIak) -> None:
    running = start()
    assert "/iak product xld25000" in visible_text(answer(running.slack.command("product")))
    assert "/iak product xld25000" in visible_text(answer(running.slack.command("product pp")))
    without = start(iak_username=None, iak_api_key=None)
    shown = visible_text(answer(without.slack.command("product xld25000")))
    assert "IAK_USERNAME" in shown and "IAK_API_KEY" in shown
    assert fake_iak.calls == []


def test_a_status_card_for_rc_20_offers_the_product(start: Start, fake_iak: FakeIak) -> None:
    running = start()
    fake_iak.add(transaction("order020", "failed", rc="20", message="CODE NOT FOUND"))
    running.slack.command("status order020", response_key="status")
    (card,) = running.fake_slack.wait_for_response("status")
    (button,) = [
        element
        for block in card["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["text"]["text"] == "Check the product"
    ]
    clicked = running.slack.action(button["action_id"], button["value"], response_key="product")
    assert clicked.status_code == 200
    (product,) = running.fake_slack.wait_for_response("product")
    assert product["replace_original"] is False  # the status card stays; this comes under it
    assert "xld25000 · XL" in visible_text(product)
    assert price_list_calls(fake_iak) == (1, 0)


def test_the_ack_never_waits_for_a_slow_iak(start: Start, fake_iak: FakeIak) -> None:
    running = start(iak_limits=None)  # the real 10 s deadline: this IAK is slow, not broken
    fake_iak.delay = 3.1
    ack, took = command(running, "product xld25000", "slow")
    assert took < SLACK_ACK_DEADLINE
    assert "Fetching" in visible_text(ack)
    (card,) = running.fake_slack.wait_for_response("slow", timeout=10)
    assert "xld25000 · XL" in visible_text(card)


def test_the_longest_list_fits_slacks_limits(start: Start, fake_iak: FakeIak) -> None:
    long_name = "Voucher <!channel> & *Mega* " + "x" * 170
    fake_iak.set_price_list(
        "prepaid",
        [
            prepaid_product(f"voucher{i:04d}{'z' * 150}", long_name, "Rp 1.000.000 " * 20, 10**9)
            for i in range(3000)
        ],
    )
    running = start(iak_limits=None)  # a long list takes longer than the short test deadline
    command(running, "product voucher", "long")
    (found,) = running.fake_slack.wait_for_response("long", timeout=10)
    assert_valid(found)
    assert "+2990 more" in visible_text(found)
    assert "<!channel>" not in str(found)
    buttons = [e for b in found["blocks"] if b["type"] == "actions" for e in b["elements"]]
    running.slack.action(buttons[0]["action_id"], buttons[0]["value"], response_key="long-one")
    (card,) = running.fake_slack.wait_for_response("long-one")
    assert_valid(card)
    assert "<!channel>" not in str(card["blocks"][1:])


def test_commands_at_the_same_time_share_one_fetch(start: Start, fake_iak: FakeIak) -> None:
    from concurrent.futures import ThreadPoolExecutor

    running = start(iak_limits=None)
    fake_iak.delay = 0.5  # long enough for every command to arrive while IAK answers
    queries = ["xld25000", "telkomsel", "bpjs", "indosat", "pln20000"]
    with ThreadPoolExecutor(len(queries)) as pool:
        acks = list(
            pool.map(
                lambda q: running.slack.command(f"product {q}", response_key=f"burst-{q}"), queries
            )
        )
    assert all(ack.status_code == 200 for ack in acks)
    for query in queries:
        (card,) = running.fake_slack.wait_for_response(f"burst-{query}", timeout=10)
        assert_valid(card)
    assert price_list_calls(fake_iak) == (1, 1)


def test_a_search_too_long_is_answered_at_once_and_searches_nothing(
    start: Start, fake_iak: FakeIak
) -> None:
    running = start()
    for text in ("product " + "telkomsel " * 400, "product a b c d e f g h i", "code " + "x" * 101):
        ack, took = command(running, text, "long")
        assert took < SLACK_ACK_DEADLINE
        shown = visible_text(ack)
        assert "too long to search" in shown and "100 characters and 8 words" in shown
    assert price_list_calls(fake_iak) == (0, 0)
    # at the limits, a search is a search
    ack, _ = command(running, "product " + " ".join(["xl"] * 8), "eight")
    assert "too long" not in visible_text(ack)


def test_a_long_search_leaves_the_event_loop_free(start: Start, fake_iak: FakeIak) -> None:
    """Thousands of products with long details: the search takes seconds. Meanwhile
    another command is answered at once: the search runs in a worker thread."""
    from concurrent.futures import ThreadPoolExecutor

    details = " ".join(f"paket{n}x" for n in range(40))
    fake_iak.set_price_list(
        "prepaid",
        [
            prepaid_product(
                f"pkg{i:05d}", f"Operator {i % 50}", f"{i}", 1000 + i, product_details=details
            )
            for i in range(10_000)
        ],
    )
    running = start(iak_limits=None)
    command(running, "product pkg00001", "warm")  # fetched, cached, then answered
    running.fake_slack.wait_for_response("warm", timeout=30)
    with ThreadPoolExecutor(1) as pool:
        searching = pool.submit(
            command, running, "product operator paket1x paket2x paket3x 25 murah data", "slow"
        )
        time.sleep(0.2)  # the search is under way
        started = time.monotonic()
        code = answer(running.slack.command("code 17"))
        code_took = time.monotonic() - started
        ack, ack_took = searching.result()
    assert "17" in visible_text(code)
    assert code_took < 1.0  # held behind the search, it took as long as the search
    assert ack_took < SLACK_ACK_DEADLINE
    # A machine fast enough answers within the ack; else the card follows.
    if "pkg" not in visible_text(ack):
        (ack,) = running.fake_slack.wait_for_response("slow", timeout=30)
    assert "pkg" in visible_text(ack)
