"""IAK's postpaid check-status and both price lists, against the loopback fake IAK: what IAK
is sent (and signed), and what the bot makes of each answer."""

from __future__ import annotations

import pytest

from bot.iak.client import ErrorKind, IakClient, IakEndpoint
from bot.iak.models import PostpaidOutcome
from bot.registry import Line, Registry
from tests.support.bot import IAK_API_KEY, IAK_USERNAME
from tests.support.fakes.iak import (
    POSTPAID_NOT_FOUND,
    POSTPAID_PRICE_LIST,
    PREPAID_PRICE_LIST,
    FakeIak,
    IakReply,
    bill,
    iak_sign,
    postpaid,
    prepaid_product,
    transaction,
)
from tests.support.iak import FAST, ClientFactory


async def test_postpaid_check_status_sends_the_documented_signed_request(
    fake_iak: FakeIak, client: IakClient
) -> None:
    fake_iak.add_bill(bill("bill001"))
    check = await client.check_postpaid_status("bill001")
    (call,) = fake_iak.calls
    assert call.path == "/api/v1/bill/check"
    assert call.body == {
        "commands": "checkstatus",
        "username": IAK_USERNAME,
        "ref_id": "bill001",
        # the constant "cs", not the ref_id as on prepaid
        "sign": iak_sign(IAK_USERNAME, IAK_API_KEY, "cs"),
    }
    assert check.outcome is PostpaidOutcome.SUCCESS
    assert check.rc == "00"
    assert check.answer.line is Line.POSTPAID
    assert check.bill is not None
    assert check.bill.product_code == "TELKOMPSTN"
    assert check.bill.customer_id == "6391601202"
    assert check.bill.bill_name == "JAORAH"
    assert (check.bill.nominal, check.bill.admin, check.bill.price) == (129610, 7500, 137110)
    assert check.bill.tr_id == "9732795"
    assert check.bill.noref == "1609626"


@pytest.mark.parametrize(
    ("outcome", "code", "expected"),
    [
        ("failed", "37", PostpaidOutcome.FAILED),
        ("pending", "39", PostpaidOutcome.PENDING),
        ("not_paid", "42", PostpaidOutcome.NOT_PAID),
    ],
)
async def test_each_postpaid_status(
    fake_iak: FakeIak, client: IakClient, outcome: str, code: str, expected: PostpaidOutcome
) -> None:
    fake_iak.add_bill(bill(f"b-{outcome}", outcome))
    check = await client.check_postpaid_status(f"b-{outcome}")
    assert check.outcome is expected
    assert check.rc == code
    assert not check.refused


async def test_without_a_status_the_postpaid_table_decides(
    fake_iak: FakeIak, client: IakClient
) -> None:
    # Strings for numbers, and no status: the response code's postpaid meaning.
    fake_iak.always(
        postpaid("b-nostatus"),
        IakReply(200, {"ref_id": "b-nostatus", "response_code": "42", "nominal": "50000.00"}),
    )
    check = await client.check_postpaid_status("b-nostatus")
    assert check.outcome is PostpaidOutcome.NOT_PAID
    assert check.bill is not None and check.bill.nominal == 50000


async def test_a_wrong_key_gets_postpaid_100(fake_iak: FakeIak, make_client: ClientFactory) -> None:
    fake_iak.add_bill(bill("bill001"))
    check = await make_client(api_key="the-production-key").check_postpaid_status("bill001")
    assert check.rc == "100"
    assert check.refused
    assert check.outcome is PostpaidOutcome.UNKNOWN
    assert len(fake_iak.calls) == 1  # a refusal is an answer: never retried


@pytest.mark.parametrize("http_status", [200, 400])
async def test_postpaid_not_found_is_a_refusal(
    fake_iak: FakeIak, client: IakClient, http_status: int
) -> None:
    fake_iak.always(postpaid("nobill"), IakReply(http_status, POSTPAID_NOT_FOUND))
    check = await client.check_postpaid_status("nobill")
    assert check.rc == "06"
    assert check.refused
    assert check.outcome is PostpaidOutcome.UNKNOWN


async def test_a_prepaid_rc_in_a_postpaid_answer_is_read_too(
    fake_iak: FakeIak, client: IakClient
) -> None:
    fake_iak.always(postpaid("b-rc"), IakReply(400, {"rc": "100", "message": "INVALID SIGNATURE"}))
    check = await client.check_postpaid_status("b-rc")
    assert check.rc == "100"
    assert check.refused


async def test_postpaid_5xx_is_retried_and_garbage_is_not(
    fake_iak: FakeIak, client: IakClient
) -> None:
    fake_iak.always(postpaid("busy"), IakReply(503, raw=b"busy"))
    fake_iak.always(postpaid("junk"), IakReply(200, raw=b"\x00\xffnot json"))
    fake_iak.always(postpaid("odd"), IakReply(200, {"ref_id": "odd", "status": 9}))
    busy = await client.check_postpaid_status("busy")
    assert busy.failure is not None and busy.failure.kind is ErrorKind.HTTP_STATUS
    assert len(fake_iak.calls_for(postpaid("busy"))) == 3
    for ref_id in ("junk", "odd"):
        check = await client.check_postpaid_status(ref_id)
        assert check.failure is not None and check.failure.kind is ErrorKind.UNPARSEABLE
        assert check.outcome is PostpaidOutcome.UNKNOWN
        assert len(fake_iak.calls_for(postpaid(ref_id))) == 1


async def test_prepaid_and_postpaid_hosts_are_asked_apart(
    fake_iak: FakeIak, registry: Registry
) -> None:
    with FakeIak(IAK_USERNAME, IAK_API_KEY) as postpaid_host:
        postpaid_host.add_bill(bill("bill001"))
        fake_iak.add(transaction("order001"))
        async with IakClient(
            username=IAK_USERNAME,
            api_key=IAK_API_KEY,
            endpoint=IakEndpoint("development", fake_iak.url),
            postpaid_endpoint=IakEndpoint("development", postpaid_host.url),
            registry=registry,
            limits=FAST,
        ) as client:
            check = await client.check_postpaid_status("bill001")
            await client.price_list(Line.POSTPAID)
            await client.check_status("order001")
        assert check.outcome is PostpaidOutcome.SUCCESS
        assert check.answer.endpoint == IakEndpoint("development", postpaid_host.url, Line.POSTPAID)
        assert [call.path for call in postpaid_host.calls] == ["/api/v1/bill/check"] * 2
        assert [call.path for call in fake_iak.calls] == ["/api/check-status"]


async def test_prepaid_price_list_request_and_products(
    fake_iak: FakeIak, client: IakClient
) -> None:
    fetched = await client.price_list(Line.PREPAID)
    (call,) = fake_iak.calls
    assert call.path == "/api/pricelist"
    assert call.body == {
        "username": IAK_USERNAME,
        "sign": iak_sign(IAK_USERNAME, IAK_API_KEY, "pl"),
        "status": "all",
    }
    assert fetched.failure is None
    assert fetched.products is not None
    by_code = {product.code: product for product in fetched.products}
    assert set(by_code) == {item["product_code"] for item in fake_iak.prepaid_products}
    xl = by_code["xld25000"]
    assert (xl.line, xl.name, xl.nominal, xl.price, xl.active, xl.active_days) == (
        Line.PREPAID,
        "XL",
        "25000",
        24925,
        True,
        30,
    )
    assert xl.details is None  # IAK's "-"
    assert by_code["htelkomsel50000"].active is False
    assert by_code["pln20000"].active_days is None  # "0": no active period


async def test_postpaid_price_list_request_and_products(
    fake_iak: FakeIak, client: IakClient
) -> None:
    fetched = await client.price_list(Line.POSTPAID)
    (call,) = fake_iak.calls
    assert call.path == "/api/v1/bill/check"
    assert call.body == {
        "commands": "pricelist-pasca",
        "username": IAK_USERNAME,
        "sign": iak_sign(IAK_USERNAME, IAK_API_KEY, "pl"),
        "status": "all",
    }
    assert fetched.products is not None
    by_code = {product.code: product for product in fetched.products}
    bpjs = by_code["BPJS"]
    assert (bpjs.line, bpjs.name, bpjs.admin_fee, bpjs.commission, bpjs.active) == (
        Line.POSTPAID,
        "BPJS Kesehatan",
        2500,
        700,
        True,
    )
    assert by_code["TELKOMPSTN"].active is False  # status 4
    assert by_code["PDAMKAB.BOGOR"].province == "Jawa Barat"


async def test_the_sdk_shape_and_v1_names_and_junk_items(
    fake_iak: FakeIak, client: IakClient
) -> None:
    items = [
        prepaid_product("xld25000", "XL", "25000", "24925"),
        {
            "pulsa_code": "hindosat5000",
            "pulsa_op": "Indosat",
            "pulsa_price": 5500,
            "masaaktif": "15",
        },
        {"product_code": "two words"},
        {"product_description": "no code"},
        "not an object",
        prepaid_product("xld25000", "XL", "25000", 1),  # listed twice: the first one counts
    ]
    fake_iak.script(PREPAID_PRICE_LIST, IakReply(200, {"pricelist": items, "rc": "00"}))
    fetched = await client.price_list(Line.PREPAID)
    assert fetched.products is not None
    assert [(p.code, p.name, p.price) for p in fetched.products] == [
        ("xld25000", "XL", 24925),
        ("hindosat5000", "Indosat", 5500),
    ]
    assert fetched.products[1].active_days == 15


async def test_refused_and_broken_price_lists(
    fake_iak: FakeIak, client: IakClient, make_client: ClientFactory
) -> None:
    wrong_key = make_client(api_key="wrong")
    prepaid = await wrong_key.price_list(Line.PREPAID)
    assert (prepaid.rc, prepaid.products, prepaid.failure) == ("204", None, None)
    postpaid_list = await wrong_key.price_list(Line.POSTPAID)
    assert (postpaid_list.rc, postpaid_list.products) == ("100", None)

    fake_iak.script(POSTPAID_PRICE_LIST, IakReply(200, {"message": "SUCCESS"}))
    empty = await client.price_list(Line.POSTPAID)
    assert empty.failure is not None and empty.failure.kind is ErrorKind.UNPARSEABLE
    fake_iak.script(PREPAID_PRICE_LIST, IakReply(502, raw=b"bad gateway"), IakReply(drop=True))
    recovered = await client.price_list(Line.PREPAID)
    assert recovered.products is not None and recovered.answer.attempts == 3
