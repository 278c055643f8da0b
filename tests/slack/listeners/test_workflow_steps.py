"""Scenario: the Workflow Builder step `check_iak_transaction`, run by a signed
`function_executed` event, against a fake IAK and a fake Slack.

What is asserted is what the workflow notices: an immediate ack, then
`functions.completeSuccess` with the step's outputs (or `functions.completeError` for a
bad input), sent with the execution's own token; and what IAK and the store saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.bot import NO_IAK_URL, RunningBot
from tests.support.fakes.iak import NOT_FOUND, FakeIak, IakReply, bill, postpaid, transaction
from tests.support.fakes.slack import STEP_END_METHODS, Call
from tests.support.iak import SHORT, SLACK_ACK_DEADLINE
from tests.support.slack_requests import STEP_TOKEN

# scenario tests: the bot runs whole, over loopback
pytestmark = pytest.mark.slow

SUCCESS = "functions.completeSuccess"
ERROR = "functions.completeError"


def run_step(bot: RunningBot, inputs: dict[str, Any], execution_id: str = "Fx0EXEC0001") -> Call:
    """Run the step; the call that ended it (either way)."""
    started = time.monotonic()
    response = bot.slack.function_executed(inputs, execution_id=execution_id)
    assert response.status_code == 200
    assert time.monotonic() - started < SLACK_ACK_DEADLINE

    end = bot.fake_slack.wait_for_step_end(execution_id, timeout=8.0)
    assert [call.method in STEP_END_METHODS for call in bot.fake_slack.calls].count(True) == 1
    assert end.headers.get("Authorization") == f"Bearer {STEP_TOKEN}"
    assert end.answer["ok"] is True, end.answer
    return end


def outputs_of(end: Call) -> dict[str, str]:
    assert end.method == SUCCESS, end.args
    outputs = end.args["outputs"]
    assert set(outputs) == {"outcome", "rc", "message", "product_code", "serial_masked", "summary"}
    assert all(isinstance(value, str) for value in outputs.values())
    assert "\n" not in outputs["summary"]
    return dict(outputs)


def test_a_success_completes_with_its_outputs_and_is_recorded(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak, database_url: str
) -> None:
    bot = start_bot(database_url=database_url, iak_base_url=fake_iak.url)
    fake_iak.add(transaction("ORD-77", "success", message="Isi ulang 0817777215 SUKSES"))

    outputs = outputs_of(run_step(bot, {"ref_id": "ORD-77"}))

    assert outputs["outcome"] == "success"
    assert outputs["rc"] == "00"
    assert outputs["product_code"] == "xld25000"
    assert outputs["serial_masked"] == "12***89"
    # masked as a channel message would be
    assert outputs["message"] == "Isi ulang 08***215 SUKSES"
    assert outputs["summary"] == "ORD-77: Success (rc 00 SUCCESS) · xld25000 · 08***215"
    assert "0817777215" not in str(outputs)
    stored = bot.bot.services.database.transactions.get("ORD-77")
    assert stored is not None and stored.outcome.value == "success"


def test_a_ref_id_iak_does_not_know_completes_as_unknown_saying_why(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak, database_url: str
) -> None:
    bot = start_bot(database_url=database_url, iak_base_url=fake_iak.url)
    fake_iak.always("typo-1", IakReply(400, NOT_FOUND))

    outputs = outputs_of(run_step(bot, {"ref_id": "typo-1", "line": "prepaid"}))

    assert outputs["outcome"] == "unknown"
    assert outputs["rc"] == ""
    assert outputs["summary"] == (
        "typo-1: Unknown (treat as pending): Not found at IAK development"
    )
    assert bot.bot.services.database.transactions.get("typo-1") is None


def test_iak_down_completes_as_unknown_and_the_ack_never_waits_for_it(
    start_bot: Callable[..., RunningBot],
) -> None:
    bot = start_bot(iak_base_url=NO_IAK_URL, iak_limits=SHORT)
    outputs = outputs_of(run_step(bot, {"ref_id": "ORD-80"}))
    assert outputs["outcome"] == "unknown"
    assert outputs["rc"] == outputs["product_code"] == outputs["serial_masked"] == ""
    assert outputs["summary"] == "ORD-80: Unknown (treat as pending): Could not reach IAK"


def test_a_slow_iak_does_not_hold_the_ack(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    bot = start_bot(iak_base_url=fake_iak.url)
    fake_iak.always("slow-1", IakReply(200, transaction("slow-1", "pending"), delay=3.1))
    outputs = outputs_of(run_step(bot, {"ref_id": "slow-1"}))
    assert (outputs["outcome"], outputs["rc"]) == ("pending", "39")


def test_a_postpaid_bill_is_checked_at_the_postpaid_api(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    bot = start_bot(iak_base_url=fake_iak.url, iak_postpaid_base_url=fake_iak.url)
    fake_iak.add_bill(bill("bill-9"))
    outputs = outputs_of(run_step(bot, {"ref_id": "bill-9", "line": "Postpaid"}))
    assert outputs["outcome"] == "success"
    assert outputs["summary"].startswith("bill-9: Paid (response_code 00")
    assert len(fake_iak.calls_for(postpaid("bill-9"))) == 1
    assert fake_iak.calls_for("bill-9") == []


@pytest.mark.parametrize(
    ("inputs", "says"),
    [
        ({"ref_id": ""}, "The ref_id is empty"),
        ({"ref_id": "   "}, "The ref_id is empty"),
        ({}, "The ref_id is empty"),
        ({"ref_id": "x" * 101}, "The ref_id is 101 characters long: IAK takes at most 100."),
        ({"ref_id": "ORD-77", "line": "pp"}, "“pp” is not a line: use `prepaid` or `postpaid`"),
    ],
    ids=["empty", "blank", "missing", "too-long", "line"],
)
def test_only_a_bad_input_fails_the_step_and_iak_is_not_asked(
    start_bot: Callable[..., RunningBot],
    fake_iak: FakeIak,
    inputs: dict[str, Any],
    says: str,
) -> None:
    bot = start_bot(iak_base_url=fake_iak.url)
    end = run_step(bot, inputs)
    assert end.method == ERROR
    assert says in end.args["error"]
    assert fake_iak.calls == []


def test_a_ref_id_with_spaces_completes_as_unknown_without_asking_iak(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    # The contract: only an empty or over-long ref_id, or another line, fails the step; a
    # ref_id typed into a form with a space in it is one no sale has: unknown, and why.
    bot = start_bot(iak_base_url=fake_iak.url)
    end = run_step(bot, {"ref_id": "ORD 77"})
    assert end.method != ERROR
    outputs = outputs_of(end)
    assert (outputs["outcome"], outputs["rc"]) == ("unknown", "")
    assert outputs["summary"] == (
        "ORD 77: Unknown (treat as pending): not checked: a ref_id is 1-100 printable "
        "characters without spaces"
    )
    assert fake_iak.calls == []


def test_outputs_follow_the_bots_language_and_its_masking_setting(
    start_bot: Callable[..., RunningBot], fake_iak: FakeIak
) -> None:
    bot = start_bot(iak_base_url=fake_iak.url, bot_language="id", mask_customer_id=False)
    fake_iak.add(transaction("ORD-81", "failed", message="Nomor 0817777215 gagal"))
    outputs = outputs_of(run_step(bot, {"ref_id": "ORD-81"}))
    assert outputs["outcome"] == "failed"
    assert outputs["message"] == "Nomor 0817777215 gagal"
    assert outputs["summary"] == "ORD-81: Gagal (rc 07 FAILED) · xld25000 · 0817777215"


def test_a_bot_without_iak_credentials_completes_as_unknown_saying_so(
    start_bot: Callable[..., RunningBot],
) -> None:
    bot = start_bot(iak_username=None, iak_api_key=None)
    outputs = outputs_of(run_step(bot, {"ref_id": "ORD-82"}))
    assert outputs["outcome"] == "unknown"
    assert "its IAK credentials are not set" in outputs["summary"]
