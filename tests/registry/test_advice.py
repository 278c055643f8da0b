"""The advice on each card is safe to follow, as the card shows it.

IAK treats a prepaid top-up sent again with the same ref_id as a check-status, not a new
sale. So sending "again" is only safe when the card says how: the same ref_id (it can
never sell twice) or a new ref_id (a new sale, once the original is known to have failed).
"""

from __future__ import annotations

import re

import pytest

from bot.registry import Action, Line, Owner, Registry, ResponseCode, Status
from bot.slack.blocks.cards import remediation_card
from bot.slack.blocks.terminal import render

SPEAKS_OF_SENDING_AGAIN = re.compile(r"\b(again|retry\w*|resend\w*|re-send\w*)\b", re.IGNORECASE)
NAMES_WHICH_REF_ID = re.compile(r"\b(same|new|any) ref_ids?\b")


def shown(code: ResponseCode | None) -> str:
    """The card as `iak-bot code` prints it, on one line."""
    assert code is not None
    return " ".join(render(remediation_card(code), width=10_000).split())


def card(registry: Registry, key: str) -> str:
    return shown(registry.get(key))


def test_every_card_that_speaks_of_sending_again_names_which_ref_id(registry: Registry) -> None:
    for code in registry:
        retries = code.action in (Action.RETRY_NOW, Action.RETRY_LATER)
        if retries or SPEAKS_OF_SENDING_AGAIN.search(code.advice):
            assert NAMES_WHICH_REF_ID.search(code.advice), code.key


def test_no_card_suggests_a_new_ref_id_while_the_original_may_still_succeed(
    registry: Registry,
) -> None:
    pending = [code for code in registry if code.status is Status.PENDING]
    assert {code.key for code in pending} >= {"OTHER", "39", "201", "postpaid 05", "postpaid 39"}
    for code in pending:
        assert re.search(r"\bdo not\b[^.]*\bnew ref_id\b", code.advice, re.IGNORECASE), code.key


def test_06_sends_again_with_the_same_ref_id_because_a_new_one_can_sell_twice(
    registry: Registry,
) -> None:
    text = card(registry, "06")
    assert "use the same ref_id" in text
    assert "a new ref_id would sell twice" in text
    assert "wrong environment checked, or the check raced it" in text


def test_http_400_sends_again_with_the_same_ref_id_after_fixing_the_request(
    registry: Registry,
) -> None:
    text = card(registry, "400")
    assert text.index("fix the request") < text.index("send it again with the same ref_id")


def test_202_first_checks_whether_the_number_already_got_that_denomination_today(
    registry: Registry,
) -> None:
    text = card(registry, "202")
    check = text.index("First check whether it did")
    assert "already got this denomination today" in text
    assert "one per number per denomination per day" in text
    assert "backend resend under a new ref_id" in text
    assert check < text.index("Only for a genuine second purchase") < text.index("API settings")


def test_207_first_checks_whether_the_number_already_had_a_transaction_today(
    registry: Registry,
) -> None:
    text = card(registry, "207")
    check = text.index("First check whether it already got what the customer wanted")
    assert "already had a transaction today, of any product" in text
    assert "backend resend under a new ref_id" in text
    assert check < text.index("Only for a genuine second purchase") < text.index("high restriction")


def test_17_says_which_sales_fail_and_how_iak_takes_a_deposit_top_up(registry: Registry) -> None:
    text = card(registry, "17")
    # IAK's solution: the deposit is lower than the price of the product being bought
    assert "Sales priced above the deposit left fail" in text
    assert "cheaper ones may still pass" in text
    # platform/topup-deposit.md and faq.md
    assert "bank transfer of the exact Transfer Amount (no rounding)" in text
    assert "the Transfer Note as remark" in text
    assert "no top-up by API" in text
    assert "payments after 21:00 WIB are credited the next day" in text
    assert "[IAK deposit top-up] https://iak.id/webapp/deposit/topup" in text
    assert "sell the failed ones again with new ref_ids" in text


def test_301_is_for_us_to_act_on_not_the_customer(registry: Registry) -> None:
    code = registry.rc("301")
    assert code is not None
    assert code.owner is Owner.US
    text = shown(code)
    assert "Who acts: us" in text
    assert "at most 3 times a day per tr_id" in text
    assert "never buy another one (a new ref_id)" in text


def test_117_stops_all_sales_like_205(registry: Registry) -> None:
    for key in ("117", "205"):
        text = card(registry, key)
        assert "Stops all sales" in text, key
        assert "every sale fails" in text, key


def test_12_says_iak_gives_no_solution_and_ours_is_a_likely_reading(registry: Registry) -> None:
    text = card(registry, "12")
    assert "IAK's table gives no solution. Our likely reading:" in text


@pytest.mark.parametrize(("key", "what"), [("102", "IP"), ("204", "key")])
def test_a_refusal_of_the_bots_own_check_is_about_the_bot_not_the_shop(
    registry: Registry, key: str, what: str
) -> None:
    text = card(registry, key)
    assert f"If the bot's own check got {key}, it is the bot's {what} IAK refused" in text
    assert "the shop's sales may be fine" in text
    # a transaction that carries it still stopped the shop's sales
    assert "Stops all sales" in text


def test_postpaid_11_checks_whether_the_bill_was_already_paid_under_that_ref_id(
    registry: Registry,
) -> None:
    text = card(registry, "postpaid 11")
    assert "postpaid refuses a reused ref_id instead of treating it as a status check" in text
    first = text.index("First check that ref_id's status: the bill may already be paid")
    assert first < text.index("Only if it is not, make the inquiry again with a new ref_id")


def test_postpaid_05_is_pending_whatever_its_solution_says(registry: Registry) -> None:
    code = registry.rc("05", line=Line.POSTPAID)
    assert code is not None
    assert code.status is Status.PENDING
    assert "Please try again" in code.solution  # IAK's own words...
    assert "treat the payment as pending" in shown(code)  # ...which we do not follow


def test_postpaid_109_names_the_pln_cut_off_hours(registry: Registry) -> None:
    text = card(registry, "postpaid 109")
    assert "PLN bills cannot be paid from 23:00 to 01:00 WIB" in text
    assert "not an outage" in text
