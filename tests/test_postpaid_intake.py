"""POST /transactions takes postpaid answers as the merchant backend forwards them (postpaid
has no callbacks): told apart from prepaid by `response_code`, stored as postpaid, timed by
IAK's own `datetime`, and shown as postpaid in /iak pending and /iak stats."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from bot.outcomes import Line, Outcome
from tests.support.bot import RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.intake import INGEST_TOKEN, postpaid_answer, topup_answer
from tests.support.messages import answer, visible_text
from tests.support.metrics import METRICS_TOKEN, OPERATOR

WIB = timezone(timedelta(hours=7))


@pytest.fixture
def bot(start_bot: Callable[..., RunningBot], database_url: str, clock: FakeClock) -> RunningBot:
    return start_bot(
        database_url=database_url,
        ingest_token=INGEST_TOKEN,
        clock=clock,
        metrics_token=METRICS_TOKEN,
    )


def ingest(bot: RunningBot, body: Any) -> httpx.Response:
    return httpx.post(
        bot.url + "/transactions", json=body, headers={"Authorization": f"Bearer {INGEST_TOKEN}"}
    )


def iak_time(moment: datetime) -> str:
    """IAK's postpaid `datetime`: YmdHis in WIB."""
    return moment.astimezone(WIB).strftime("%Y%m%d%H%M%S")


def test_a_postpaid_payment_is_stored_as_postpaid_at_iaks_time(
    bot: RunningBot, clock: FakeClock
) -> None:
    paid_at = (clock.now() - timedelta(hours=2)).replace(microsecond=0)
    response = ingest(bot, postpaid_answer("bill001", datetime=iak_time(paid_at)))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "success"

    state = bot.bot.services.database.transactions.get("bill001")
    assert state is not None
    assert state.line is Line.POSTPAID
    assert state.outcome is Outcome.SUCCESS
    assert (state.rc, state.product_code, state.customer_id) == ("00", "PLNPOSTPAID", "6391601202")
    assert state.sn == "1609626"  # the biller's reference number
    assert state.started_at == paid_at.astimezone(UTC)


def test_an_explicit_created_at_wins_over_iaks_datetime(bot: RunningBot, clock: FakeClock) -> None:
    created = (clock.now() - timedelta(minutes=5)).replace(microsecond=0)
    body = {**postpaid_answer("bill002"), "created_at": created.isoformat()}
    assert ingest(bot, body).status_code == 200
    state = bot.bot.services.database.transactions.get("bill002")
    assert state is not None and state.started_at == created


@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [
        (3, "39", "pending"),  # check-status: in process
        (None, "05", "pending"),  # postpaid 05 UNDEFINED ERROR is pending (prepaid's is not)
        (None, "06", "failed"),  # a payment with an unknown inquiry id failed
        (0, "42", "failed"),  # the payment request never reached IAK: not paid
        (2, "37", "failed"),
        (1, "00", "success"),
    ],
)
def test_the_outcome_follows_the_postpaid_table(
    bot: RunningBot, status: int | None, code: str, outcome: str
) -> None:
    response = ingest(bot, postpaid_answer("bill003", status=status, response_code=code))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == outcome


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"rc": "00"}, "both rc (a prepaid answer) and response_code"),
        ({"response_code": None}, "looks like a postpaid answer (tr_name, period, nominal"),
        ({"status": 7}, "data.status: status must be 0 (not received), 1 (success)"),
        ({"datetime": "2026-03-14 09:30"}, "data.datetime: must be IAK's YmdHis time in WIB"),
        ({"datetime": "20261399000000"}, "data.datetime is not a real time"),
        ({"datetime": "29990101000000"}, "data.datetime is in the future"),
        ({"ref_id": "has space"}, "data.ref_id: ref_id must be 1-100 printable characters"),
        ({"hp": "9" * 101}, "data.hp: at most 100 characters"),
    ],
)
def test_a_malformed_postpaid_answer_is_refused_saying_why(
    bot: RunningBot, data: dict[str, Any], says: str
) -> None:
    body = postpaid_answer("bill004")
    body["data"].update(data)
    body["data"] = {name: value for name, value in body["data"].items() if value is not None}
    response = ingest(bot, body)
    assert response.status_code == 400
    assert says in response.json()["error"]
    assert bot.bot.services.database.transactions.get("bill004") is None


def test_pending_and_stats_say_which_line(bot: RunningBot, clock: FakeClock) -> None:
    now = clock.now()
    ingest(bot, topup_answer("top001"))  # prepaid, pending 39
    bill = postpaid_answer("bill005", status=3, response_code="39", datetime=iak_time(now))
    assert ingest(bot, bill).status_code == 200
    for n in range(2):  # the same number on both lines: two different codes
        failed = postpaid_answer(f"bill1{n}", response_code="07", datetime=iak_time(now))
        assert ingest(bot, failed).status_code == 200
    failed_topup = topup_answer("top002", status=2, rc="07")
    assert ingest(bot, failed_topup).status_code == 200

    listed = visible_text(answer(bot.slack.command("pending")))
    rows = {line.split(" · ")[1].strip("`"): line for line in listed.splitlines() if " · " in line}
    assert rows["top001"].endswith("(prepaid)")
    assert rows["bill005"].endswith("(postpaid)")

    stats = visible_text(answer(bot.slack.command("stats 1h")))
    assert "*Postpaid 07 · TRANSACTION FAILED* (postpaid) — *2*" in stats
    assert "*07 · FAILED* (prepaid) — *1*" in stats


def test_the_openapi_page_documents_the_postpaid_body(bot: RunningBot) -> None:
    spec = httpx.get(bot.url + "/openapi.json", headers=OPERATOR).json()
    body = spec["paths"]["/transactions"]["post"]["requestBody"]["content"]["application/json"]
    data = body["schema"]["properties"]["data"]
    shapes = data.get("anyOf") or data.get("oneOf")
    assert shapes is not None and len(shapes) == 2
    postpaid = next(shape for shape in shapes if "response_code" in shape["properties"])
    assert {"tr_name", "period", "nominal", "admin", "noref", "datetime"} <= set(
        postpaid["properties"]
    )
    assert "YmdHis" in postpaid["properties"]["datetime"]["description"]


def test_an_inquirys_answer_is_never_stored_as_a_payment(bot: RunningBot) -> None:
    """IAK answers a successful inquiry with 00 too (PAYMENT / INQUIRY SUCCESS): without a
    status or the biller's noref, nothing says the bill was paid."""
    inquiry = postpaid_answer(
        "inq001", message="INQUIRY SUCCESS", noref=None, datetime=None, balance=None
    )
    response = ingest(bot, inquiry)
    assert response.status_code == 400
    assert "inquiry" in response.json()["error"]
    assert bot.bot.services.database.transactions.get("inq001") is None
    # The payment's answer, with the biller's noref, is one.
    assert ingest(bot, postpaid_answer("inq001")).json()["outcome"] == "success"
