"""The advice on each card is safe to follow, as the card shows it.

IAK treats a prepaid top-up sent again with the same ref_id as a check-status, not a new
sale. So sending "again" is only safe when the card says how: the same ref_id (it can
never sell twice) or a new ref_id (a new sale, once the original is known to have failed).
"""

from __future__ import annotations

import re

import pytest

from bot.registry import Action, Line, Owner, Registry, ResponseCode, Status
from bot.slack.blocks.terminal import render
from tests.support.bot import RunningBot
from tests.support.messages import answer

SPEAKS_OF_SENDING_AGAIN = re.compile(r"\b(again|retry\w*|resend\w*|re-send\w*)\b", re.IGNORECASE)
NAMES_WHICH_REF_ID = re.compile(r"\b(same|new|any) ref_ids?\b")
HTTP_ROWS = ("200", "400")


class Cards:
    """The cards as ops get them: `/iak code <key>` sent to the bot as Slack sends it, the
    answer rendered as `iak-bot code` prints it, on one line."""

    def __init__(self, bot: RunningBot) -> None:
        self.bot = bot

    def card(self, key: str) -> str:
        """The card of a registry key (`17`, `400`, `postpaid 11`): 200 and 400 are HTTP's."""
        query = f"http {key}" if key in HTTP_ROWS else key
        message = answer(self.bot.slack.command(f"code {query}"))
        return " ".join(render(message, width=10_000).split())

    def shown(self, code: ResponseCode | None) -> str:
        assert code is not None
        return self.card(code.key)


@pytest.fixture(scope="module")
def cards(shared_bot: RunningBot) -> Cards:
    return Cards(shared_bot)


def test_every_card_that_speaks_of_sending_again_names_which_ref_id(
    cards: Cards, registry: Registry
) -> None:
    for code in registry:
        retries = code.action in (Action.RETRY_NOW, Action.RETRY_LATER)
        if retries or SPEAKS_OF_SENDING_AGAIN.search(code.advice):
            # the card's resend sentence (from the registry's facts) or the advice names it
            assert NAMES_WHICH_REF_ID.search(cards.shown(code)), code.key
        if SPEAKS_OF_SENDING_AGAIN.search(code.advice):
            assert NAMES_WHICH_REF_ID.search(code.advice), code.key


def test_no_card_suggests_a_new_ref_id_while_the_original_may_still_succeed(
    registry: Registry,
) -> None:
    pending = [code for code in registry if code.status is Status.PENDING]
    assert {code.key for code in pending} >= {"OTHER", "39", "201", "postpaid 05", "postpaid 39"}
    for code in pending:
        assert re.search(r"\bdo not\b[^.]*\bnew ref_id\b", code.advice, re.IGNORECASE), code.key


def test_06_sends_again_with_the_same_ref_id_because_a_new_one_can_sell_twice(cards: Cards) -> None:
    text = cards.card("06")
    assert "use the same ref_id" in text
    assert "a new ref_id would sell twice" in text
    assert "wrong environment checked, or the check raced it" in text


def test_http_400_sends_again_with_the_same_ref_id_after_fixing_the_request(cards: Cards) -> None:
    text = cards.card("400")
    assert text.index("fix the request") < text.index("send it again with the same ref_id")


def test_http_400_defers_to_the_card_of_the_rc_in_its_body(cards: Cards) -> None:
    """A 400 whose data.rc is 14, 16 or 203 is a wrong number: those cards say a new ref_id."""
    text = cards.card("400")
    assert "If data.rc names a code, that code's card decides" in text
    assert "14, 16 and 203 mean a wrong number, sold only with a new ref_id once fixed" in text
    assert text.index("that code's card decides") < text.index("Otherwise read data.error_details")


def test_202_finds_the_earlier_sale_which_may_be_pending_or_failed(cards: Cards) -> None:
    text = cards.card("202")
    assert "already had a transaction of this denomination today" in text
    assert "Find the earlier one (/iak find <customer number>) before anything" in text
    assert "succeeded, the customer has it; pending, wait for it; failed, sell again" in text
    assert "failed, sell again with a new ref_id, tomorrow if IAK still refuses" in text
    assert "then the customer has it, do not sell again" not in text
    assert "removes IAK's only guard against our backend sending a sale twice" in text


def test_207_finds_the_earlier_transaction_and_names_what_the_restriction_guards(
    cards: Cards,
) -> None:
    text = cards.card("207")
    assert "already had a transaction today, of any product" in text
    assert "Find the earlier one (/iak find <customer number>) before anything" in text
    assert "pending, wait for it" in text
    assert "the stricter of IAK's two guards against our backend sending a sale twice" in text


def test_17_says_which_sales_fail_and_iaks_deposit_rules(cards: Cards) -> None:
    for key in ("17", "postpaid 17"):
        text = cards.card(key)
        # platform/topup-deposit.md: the nominal rules, and how to pay
        assert "at least Rp100.000, in multiples of Rp100.000" in text, key
        assert "at most Rp1.000.000 per top-up unless IAK grants free input" in text, key
        assert "the exact Transfer Amount" in text, key
        assert "no top-up by API" in text, key
        # faq.md: top-ups are processed 07.00 AM - 09.00 PM, later ones the next day
        assert "IAK credits top-ups 07:00-21:00 WIB, later ones the next day" in text, key
        # one deposit page for both tables, the one IAK's documentation names
        assert "[IAK deposit top-up] https://iak.id/webapp/deposit/topup" in text, key
        assert "Selling it again is a new sale" in text or "Paying it again starts over" in text
        assert "only for those not refunded or cancelled meanwhile" in text, key
    assert "Sales priced above the deposit left fail" in cards.card("17")
    assert "cheaper ones may still pass" in cards.card("17")


def test_301_is_for_us_to_act_on_and_claims_nothing_iak_does_not_say(
    cards: Cards, registry: Registry
) -> None:
    code = registry.rc("301")
    assert code is not None
    assert code.owner is Owner.US
    text = cards.shown(code)
    assert "Who acts: us" in text
    assert "3 times" not in text  # IAK's table gives no number
    assert "succeeded" not in text  # nor does it say the eSIM sale succeeded
    assert "This code says nothing of the eSIM sale itself" in text
    assert "never buy another eSIM for it" in text


def test_00_does_not_send_ops_to_a_card_that_masks_the_serial(cards: Cards) -> None:
    text = cards.card("00")
    assert "from the status card" not in text
    assert "give them the serial number (SN; for PLN, the token) exactly as IAK sent it" in text
    assert "Cards mask it: Show SN on the /iak status card shows it whole" in text


def test_143_says_the_sale_itself_is_unaffected(cards: Cards) -> None:
    text = cards.card("143")
    assert "IAK refused the inquiry, not a sale, and the sale itself is unaffected" in text


@pytest.mark.parametrize("key", ["203", "21", "18", "19"])
def test_a_wrong_number_card_names_the_ref_id_to_sell_with(cards: Cards, key: str) -> None:
    assert "Selling it again is a new sale: a new ref_id" in cards.card(key)


@pytest.mark.parametrize(
    "key", ["17", "20", "102", "107", "110", "117", "118", "204", "205", "400"]
)
def test_sending_again_after_an_outage_is_only_for_those_not_refunded_or_cancelled(
    cards: Cards, key: str
) -> None:
    text = cards.card(key)
    assert "only those not refunded or cancelled meanwhile" in text or (
        "only for those not refunded or cancelled meanwhile" in text
    )


def test_the_key_advice_claims_only_that_iaks_keys_differ(cards: Cards) -> None:
    for key in ("204", "postpaid 100"):
        text = cards.card(key)
        assert "does not work in production" not in text, key
        assert "fails in production" not in text, key
    assert "a development key and a separate production key" in cards.card("204")
    assert "development and production keys differ" in cards.card("postpaid 100")


def test_117_stops_all_sales_like_205(cards: Cards) -> None:
    for key in ("117", "205"):
        text = cards.card(key)
        assert "Stops all sales" in text, key
        assert "every sale fails" in text, key


def test_12_says_iak_gives_no_solution_and_ours_is_a_likely_reading(cards: Cards) -> None:
    text = cards.card("12")
    assert "IAK's table gives no solution. Our likely reading:" in text


@pytest.mark.parametrize(("key", "what"), [("102", "IP"), ("204", "key")])
def test_a_refusal_of_the_bots_own_check_is_about_the_bot_not_the_shop(
    cards: Cards, key: str, what: str
) -> None:
    text = cards.card(key)
    assert f"If the bot's own check got {key}, it is the bot's {what} IAK refused" in text
    assert "the shop's sales may be fine" in text
    # a transaction that carries it still stopped the shop's sales
    assert "Stops all sales" in text


def test_postpaid_11_waits_for_a_bill_in_process_and_pays_one_not_paid(cards: Cards) -> None:
    text = cards.card("postpaid 11")
    assert "postpaid refuses a reused ref_id instead of treating it as a status check" in text
    first = text.index("Check that ref_id first (/iak status pp <ref_id>")
    assert first < text.index("in process, wait; not paid, pay its inquiry's tr_id")
    assert text.index("not paid, pay") < text.index("only if failed, make the inquiry again")
    assert "Only if it is not" not in text


def test_postpaid_05_is_pending_whatever_its_solution_says(
    cards: Cards, registry: Registry
) -> None:
    code = registry.rc("05", line=Line.POSTPAID)
    assert code is not None
    assert code.status is Status.PENDING
    assert "Please try again" in code.solution  # IAK's own words...
    assert "treat the payment as pending" in cards.shown(code)  # ...which we do not follow


def test_postpaid_109_names_the_pln_cut_off_hours(cards: Cards) -> None:
    text = cards.card("postpaid 109")
    assert "PLN bills cannot be paid from 23:00 to 01:00 WIB" in text
    assert "not an outage" in text
    assert "other products are not affected" not in text  # IAK's docs do not say so
