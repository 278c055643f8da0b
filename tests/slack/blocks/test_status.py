"""The status and balance cards: what ops read for every answer IAK can give, within limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.iak.client import (
    BalanceCheck,
    CallLimits,
    IakClient,
    IakEndpoint,
    PostpaidCheck,
    StatusCheck,
)
from bot.outcomes import Outcome, Source
from bot.registry import Line, Registry
from bot.slack.blocks.balance import balance_card
from bot.slack.blocks.bills import postpaid_status_card
from bot.slack.blocks.iak_answers import CHECK_PRODUCT_ACTION, RECHECK_ACTION, RecheckTarget
from bot.slack.blocks.serials import SHOW_SERIAL_ACTION
from bot.slack.blocks.status import checking_message, iak_not_configured, status_card
from bot.slack.blocks.terminal import render
from bot.slack.blocks.text import Message, rupiah
from bot.store.transactions import Event, History
from tests.support.fakes.iak import (
    IP_NOT_ALLOWED,
    NOT_FOUND,
    WRONG_SIGN,
    bill,
    refusal,
    transaction,
)
from tests.support.messages import all_text, assert_valid, mrkdwn_texts, shown

ENDPOINT = IakEndpoint("production", "https://prepaid.iak.id")
POSTPAID_ENDPOINT = IakEndpoint("production", "https://mobilepulsa.net", Line.POSTPAID)
CUSTOMER = "0817777215"
PLN_TOKEN = "1234-5678-9012-3456-7890"

Respond = Callable[[httpx.Request], Any]


async def ask(registry: Registry, respond: Respond, what: str = "order001") -> Any:
    """What the real client makes of IAK answering with `respond` (no network)."""

    async def handler(request: httpx.Request) -> httpx.Response:
        result = respond(request)
        if asyncio.iscoroutine(result):
            result = await result
        assert isinstance(result, httpx.Response)
        return result

    async with IakClient(
        username="u",
        api_key="k",
        endpoint=ENDPOINT,
        postpaid_endpoint=POSTPAID_ENDPOINT,
        registry=registry,
        limits=CallLimits(deadline=0.2, backoff=0.001),
        transport=httpx.MockTransport(handler),
    ) as client:
        if what == "balance":
            return await client.check_balance()
        if what.startswith("postpaid "):
            return await client.check_postpaid_status(what.removeprefix("postpaid "))
        return await client.check_status(what)


def answering(status: int, data: dict[str, Any] | None = None, raw: bytes | None = None) -> Respond:
    body = raw if raw is not None else json.dumps({"data": data}).encode()
    return lambda _: httpx.Response(status, content=body)


async def status_of(
    registry: Registry, status: int, data: dict[str, Any], ref_id: str = "order001"
) -> StatusCheck:
    check = await ask(registry, answering(status, data), ref_id)
    assert isinstance(check, StatusCheck)
    return check


async def postpaid_of(
    registry: Registry, status: int, data: dict[str, Any], ref_id: str = "bill001"
) -> PostpaidCheck:
    check = await ask(registry, answering(status, data), f"postpaid {ref_id}")
    assert isinstance(check, PostpaidCheck)
    return check


def buttons(card: Message) -> list[dict[str, Any]]:
    return [e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("Connection refused", request=request)


async def hanging(_: httpx.Request) -> httpx.Response:
    await asyncio.sleep(5)
    return httpx.Response(200)


def test_rupiah() -> None:
    assert rupiah(25000) == "Rp25.000"
    assert rupiah(997061249) == "Rp997.061.249"
    assert rupiah(0) == "Rp0"
    assert rupiah(-5000) == "-Rp5.000"
    assert rupiah(None) == "—"


async def test_success_card_shows_what_ops_need(registry: Registry) -> None:
    card = status_card(await status_of(registry, 200, transaction("order001")), registry)
    assert_valid(card)
    text = shown(card)
    assert card["blocks"][0]["text"]["text"] == "Transaction order001"
    assert "Success" in card["blocks"][1]["elements"][0]["text"]
    for expected in ("xld25000", "08***215", "Rp25.000", "Rp997.061.249", "3482", "12***89"):
        assert expected in text
    assert CUSTOMER not in text
    assert "123456789" not in text  # the serial is partly masked
    assert "00 · SUCCESS" in text
    assert "Nothing to do" in text
    buttons = [e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons[0]["action_id"] == RECHECK_ACTION
    assert buttons[0]["value"] == "order001"
    assert "First seen" not in text  # no history given: nothing claimed


@pytest.mark.parametrize(
    ("outcome", "badge", "todo"),
    [("failed", "Failed", "Retry now"), ("pending", "Pending", "Wait")],
)
async def test_failed_and_pending_cards(
    registry: Registry, outcome: str, badge: str, todo: str
) -> None:
    card = status_card(await status_of(registry, 200, transaction("t1", outcome)), registry)
    assert_valid(card)
    assert badge in card["blocks"][1]["elements"][0]["text"]
    assert f"What to do: {todo}" in shown(card)
    assert "Serial number" not in shown(card)


async def test_pln_token_and_customer_number_never_shown(registry: Registry) -> None:
    data = transaction(
        "pln1",
        sn=f"{PLN_TOKEN}/BUDI SANTOSO/R1/1300VA",
        product_code="hpln20000",
        message=f"SUCCESS untuk {CUSTOMER}",
    )
    text = shown(status_card(await status_of(registry, 200, data, "pln1"), registry))
    assert PLN_TOKEN not in text
    assert "BUDI SANTOSO" not in text
    assert "R1/1300VA" in text
    assert CUSTOMER not in text
    assert "08***215" in text


async def test_not_found_names_the_environment_asked(registry: Registry) -> None:
    for http_status in (200, 400):
        card = status_card(await status_of(registry, http_status, NOT_FOUND), registry)
        assert_valid(card)
        text = shown(card)
        assert "Not found at IAK production" in text
        assert "https://prepaid.iak.id" in text
        assert "IAK_ENV=production" in text
        assert "sandbox" in text
        assert "Unknown" in card["blocks"][1]["elements"][0]["text"]


async def test_wrong_credentials_name_the_settings_to_fix(registry: Registry) -> None:
    card = status_card(await status_of(registry, 400, WRONG_SIGN), registry)
    assert_valid(card)
    text = shown(card)
    for name in ("IAK_USERNAME", "IAK_API_KEY", "IAK_ENV"):
        assert name in text
    assert "IAK_USERNAME" in card["text"]
    # The bot's own key was refused: its check, not the shop's sales (which may be fine).
    assert "Check refused" in text
    assert "Stops all sales" not in text


async def test_ip_not_whitelisted_points_to_a_static_ip_and_iak_settings(
    registry: Registry,
) -> None:
    card = status_card(await status_of(registry, 400, IP_NOT_ALLOWED), registry)
    assert_valid(card)
    text = shown(card)
    assert "static-IP add-on" in text
    assert "Heroku" in text
    urls = [e.get("url") for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert "https://developer.iak.id/prod-setting" in urls


@pytest.mark.parametrize(
    ("respond", "headline"),
    [
        (unreachable, "Could not reach IAK"),
        (hanging, "IAK did not answer in time"),
        (answering(503, raw=b"<html>Service Unavailable</html>"), "IAK answered HTTP 503"),
        (answering(200, raw=b"<html>maintenance</html>"), "IAK's answer could not be read"),
    ],
)
async def test_no_answer_says_the_outcome_is_unknown(
    registry: Registry, respond: Respond, headline: str
) -> None:
    check = await ask(registry, respond)
    card = status_card(check, registry)
    assert_valid(card)
    text = shown(card)
    assert headline in text
    assert headline in card["text"]
    assert "outcome is unknown" in text
    assert "treat it as pending" in text
    assert "Something went wrong on IAK" in text  # the seed's OTHER row
    assert "https://prepaid.iak.id" in text


async def test_400_without_rc_shows_iaks_error_details(registry: Registry) -> None:
    details = {"error_details": f"customer_id {CUSTOMER} <is> invalid"}
    card = status_card(await status_of(registry, 400, details), registry)
    assert_valid(card)
    text = shown(card)
    assert "customer_id 08***215 &lt;is&gt; invalid" in text
    assert "HTTP 400 · Bad Request" in text


async def test_a_backend_time_apart_from_first_seen_shows_both(registry: Registry) -> None:
    """A top-up pending since 09:00 that the bot first hears of at 11:00: the card says
    when it was created and when the bot first saw it."""
    created = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 09:00 WIB
    heard = created + timedelta(hours=2)
    check = await status_of(registry, 200, transaction("late1", "pending"))
    history = History((seen(heard, Source.INGEST, Outcome.PENDING, "39"),), created)
    text = render(status_card(check, registry, history=history))
    assert "Created 2026-11-28 02:00 UTC (the backend's time)" in text
    assert "First seen by the bot 2026-11-28 04:00 UTC" in text
    same = History((seen(heard, Source.INGEST, Outcome.PENDING, "39"),), heard)
    assert "Created" not in render(status_card(check, registry, history=same))


async def test_an_rc_iak_never_published(registry: Registry) -> None:
    card = status_card(await status_of(registry, 200, {"ref_id": "o", "rc": "999"}), registry)
    assert_valid(card)
    assert "not in IAK's published table" in shown(card)


def seen(at: datetime, source: Source, outcome: Outcome, rc: str | None) -> Event:
    return Event(source=source, at=at, outcome=outcome, rc=rc, applied=True)


async def test_history_first_seen_and_each_change(registry: Registry) -> None:
    start = datetime(2024, 5, 1, 10, 2, tzinfo=UTC)
    history = History(
        (
            seen(start + timedelta(minutes=3), Source.CALLBACK, Outcome.SUCCESS, "00"),
            seen(start, Source.INGEST, Outcome.PENDING, "39"),
            seen(start + timedelta(minutes=1), Source.STATUS_CHECK, Outcome.PENDING, "39"),
        )
    )
    check = await status_of(registry, 200, transaction("order001"))
    card = status_card(check, registry, history=history)
    assert_valid(card)
    text = render(card)
    assert "First seen by the bot 2024-05-01 10:02 UTC (merchant backend)" in text
    assert "10:05 UTC IAK callback: Success (rc 00)" in text
    assert "status check" not in text  # no change, so not a line of its own
    assert f"<!date^{int(start.timestamp())}^" in all_text(card)  # each reader's time zone

    never = status_card(check, registry, history=History(()))
    assert "no record of this ref_id" in shown(never)

    long = History(
        tuple(
            seen(start + timedelta(minutes=i), Source.CALLBACK, Outcome.PENDING, str(100 + i))
            for i in range(200)
        )
    )
    crowded = status_card(check, registry, history=long)
    assert_valid(crowded)
    assert "earlier changes not shown" in shown(crowded)


async def test_longest_and_hostile_input_fits_and_is_never_markup(registry: Registry) -> None:
    ref_id = "<!channel>" + "&*_`~" * 18
    data = transaction(ref_id, message="<@U123|boss> " + "x" * 600, product_code="<!here>")
    check = await status_of(registry, 200, data, ref_id)
    card = status_card(check, registry, history=History(()))
    assert_valid(card)
    assert card["blocks"][0]["text"]["type"] == "plain_text"
    mrkdwn = mrkdwn_texts(card["blocks"])
    assert mrkdwn
    for markup in ("<!channel>", "<!here>", "<@U123|boss>"):
        assert all(markup not in text for text in mrkdwn)
        assert markup not in card["text"]


@pytest.mark.parametrize(
    ("data", "recheck", "offered"),
    [
        (transaction("sn1"), True, True),
        (transaction("sn1", sn=f"{PLN_TOKEN}/BUDI/R1/900", product_code="pln20"), True, True),
        (transaction("sn1", "pending"), True, False),
        (transaction("sn1", "failed", sn="123456789"), True, False),
        (transaction("sn1", sn="-"), True, False),  # IAK's placeholders are no serial
        (transaction("sn1", sn="0"), True, False),
        (transaction("sn1", sn=""), True, False),
        (transaction("sn1"), False, False),  # a terminal has nothing to press
    ],
)
async def test_show_sn_only_where_the_card_masks_a_serial(
    registry: Registry, data: dict[str, Any], recheck: bool, offered: bool
) -> None:
    card = status_card(await status_of(registry, 200, data, "sn1"), registry, recheck=recheck)
    found = [e for e in buttons(card) if e["action_id"] == SHOW_SERIAL_ACTION]
    assert bool(found) is offered
    if found:
        assert found[0]["text"]["text"] == "Show SN"
        assert found[0]["value"] == "sn1"  # the transaction only: never the serial
    assert_valid(card)


async def test_a_postpaid_card_offers_no_show_sn(registry: Registry) -> None:
    check = await postpaid_of(registry, 200, bill("bill-sn", "success"), "bill-sn")
    card = postpaid_status_card(check, registry)
    assert SHOW_SERIAL_ACTION not in [e["action_id"] for e in buttons(card)]


async def test_terminal_card_without_recheck(registry: Registry) -> None:
    check = await status_of(registry, 200, transaction("order001"))
    text = render(status_card(check, registry, recheck=False))
    assert "Recheck" not in text
    assert text.startswith("Transaction order001\n")
    assert "*" not in text.replace("***", "") and "`" not in text


async def test_balance_card(registry: Registry) -> None:
    check = await ask(registry, answering(200, {"balance": 997136249, "rc": "00"}), "balance")
    assert isinstance(check, BalanceCheck)
    plain = balance_card(check, registry)
    assert_valid(plain)
    assert "Rp997.136.249" in shown(plain)
    assert "Low" not in shown(plain) and "threshold" not in shown(plain)

    above = balance_card(check, registry, low_threshold=1_000_000)
    assert "Low deposit" not in shown(above)
    assert "threshold: Rp1.000.000" in shown(above)

    low = balance_card(check, registry, low_threshold=1_000_000_000)
    assert_valid(low)
    # Prominent: the first thing under the header, and the notification text itself.
    assert (
        "Low deposit: Rp997.136.249 is below the threshold of Rp1.000.000.000"
        in (low["blocks"][1]["text"]["text"])
    )
    assert low["text"].startswith("LOW DEPOSIT")
    assert "https://iak.id/" in all_text(low)


async def test_balance_errors_are_answers(registry: Registry) -> None:
    refused = balance_card(await ask(registry, answering(400, WRONG_SIGN), "balance"), registry)
    assert_valid(refused)
    assert "IAK_API_KEY" in shown(refused)
    assert "unknown" in refused["text"]
    down = balance_card(await ask(registry, unreachable, "balance"), registry, low_threshold=5)
    assert_valid(down)
    assert "Could not reach IAK" in shown(down)
    assert "Low deposit" not in shown(down)


def test_acks_and_missing_settings_are_valid() -> None:
    checking = checking_message("<!channel>", ENDPOINT)
    assert_valid(checking)
    assert checking["blocks"][0]["text"]["type"] == "plain_text"
    assert "<!channel>" not in checking["text"]
    missing = iak_not_configured("IAK_USERNAME: your IAK username")
    assert_valid(missing)
    assert "IAK_USERNAME" in shown(missing)


async def test_a_postpaid_card_shows_the_bill_masked(registry: Registry) -> None:
    card = postpaid_status_card(await postpaid_of(registry, 200, bill("bill001")), registry)
    assert_valid(card)
    text = shown(card)
    assert card["blocks"][0]["text"]["text"] == "Postpaid bill bill001"
    assert "Paid" in card["blocks"][1]["elements"][0]["text"]
    for expected in ("TELKOMPSTN", "63***202", "J***", "Rp129.610", "Rp7.500", "Rp137.110"):
        assert expected in text
    assert "6391601202" not in text and "JAORAH" not in text
    assert "Postpaid 00 · PAYMENT / INQUIRY SUCCESS" in text
    (recheck,) = buttons(card)
    assert (recheck["action_id"], recheck["value"]) == (RECHECK_ACTION, "postpaid bill001")
    assert RecheckTarget.parse(recheck["value"]) == RecheckTarget("bill001", Line.POSTPAID)
    assert RecheckTarget.parse("order001") == RecheckTarget("order001")


async def test_longest_and_hostile_bill_fits_and_is_never_markup(registry: Registry) -> None:
    ref_id = "<!channel>" + "&*_`~" * 18
    data = bill(
        ref_id,
        "failed",
        message="<@U123|boss> " + "x" * 600,
        code="<!here>" * 80,
        tr_name="<!everyone> " * 60,
        period="2021" * 200,
        noref="9" * 500,
        datetime="<!here>" * 10,
    )
    card = postpaid_status_card(await postpaid_of(registry, 200, data, ref_id), registry)
    assert_valid(card)
    assert card["blocks"][0]["text"]["type"] == "plain_text"
    for markup in ("<!channel>", "<!here>", "<@U123|boss>", "<!everyone>"):
        assert all(markup not in text for text in mrkdwn_texts(card["blocks"]))
        assert markup not in card["text"]


@pytest.mark.parametrize(
    ("line", "data", "expected"),
    [
        ("prepaid", transaction("t1", "failed", rc="20"), "prepaid xld25000"),
        ("prepaid", transaction("t1", "failed", rc="106"), "prepaid xld25000"),
        ("postpaid", bill("t1", "failed", response_code="106"), "postpaid TELKOMPSTN"),
        ("postpaid", bill("t1", "failed", response_code="20"), "postpaid TELKOMPSTN"),
    ],
)
async def test_product_codes_offer_the_products_price_list_entry(
    registry: Registry, line: str, data: dict[str, Any], expected: str
) -> None:
    if line == "postpaid":
        card = postpaid_status_card(await postpaid_of(registry, 200, data, "t1"), registry)
    else:
        card = status_card(await status_of(registry, 200, data, "t1"), registry)
    assert_valid(card)
    (product,) = [b for b in buttons(card) if b["action_id"] == CHECK_PRODUCT_ACTION]
    assert product["text"]["text"] == "Check the product"
    assert product["value"] == expected


async def test_other_codes_or_no_product_offer_no_product_button(registry: Registry) -> None:
    cards = [
        status_card(await status_of(registry, 200, transaction("t1", "failed")), registry),
        status_card(
            await status_of(registry, 200, transaction("t1", "failed", rc="20", product_code=None)),
            registry,
        ),
        status_card(await status_of(registry, 400, refusal("20", "CODE NOT FOUND")), registry),
    ]
    for card in cards:
        assert CHECK_PRODUCT_ACTION not in [b["action_id"] for b in buttons(card)]


async def test_postpaid_refusals_and_failures(registry: Registry) -> None:
    wrong = postpaid_status_card(
        await postpaid_of(registry, 400, {"response_code": "100", "message": "INVALID SIGNATURE"}),
        registry,
    )
    assert_valid(wrong)
    assert "IAK_API_KEY" in shown(wrong) and "response_code 100" in shown(wrong)
    assert "Product" not in all_text(wrong)  # a refusal says nothing about any bill
    check = await ask(registry, unreachable, "postpaid bill001")
    down = postpaid_status_card(check, registry)
    assert_valid(down)
    assert "Could not reach IAK" in shown(down)
    assert "https://mobilepulsa.net" in shown(down)  # the postpaid host was asked
