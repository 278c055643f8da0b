"""The IAK client against a loopback fake IAK: what IAK is sent, what comes back, and when."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.iak.client import (
    CallLimits,
    ErrorKind,
    IakClient,
    IakEndpoint,
)
from bot.outcomes import Outcome
from bot.registry import Line, Registry
from tests.support.bot import IAK_API_KEY, IAK_USERNAME
from tests.support.fakes.iak import (
    BALANCE,
    NOT_FOUND,
    FakeIak,
    IakReply,
    iak_sign,
    transaction,
)
from tests.support.iak import ClientFactory


async def test_check_status_sends_the_documented_signed_request(
    fake_iak: FakeIak, client: IakClient
) -> None:
    fake_iak.add(transaction("order001"))
    check = await client.check_status("order001")
    (call,) = fake_iak.calls
    assert call.path == "/api/check-status"
    assert call.headers["Content-Type"] == "application/json"
    assert call.body == {
        "username": IAK_USERNAME,
        "ref_id": "order001",
        "sign": iak_sign(IAK_USERNAME, IAK_API_KEY, "order001"),
    }
    assert check.outcome is Outcome.SUCCESS
    assert check.failure is None
    assert check.answer.http_status == 200
    assert check.answer.attempts == 1
    assert check.transaction is not None
    assert check.transaction.sn == "123456789"
    assert check.transaction.price == 25000
    assert check.transaction.tr_id == "3482"


@pytest.mark.parametrize(
    ("outcome", "rc", "expected"),
    [("failed", "07", Outcome.FAILED), ("pending", "39", Outcome.PENDING)],
)
async def test_failed_and_pending(
    fake_iak: FakeIak, client: IakClient, outcome: str, rc: str, expected: Outcome
) -> None:
    fake_iak.add(transaction("t1", outcome))
    check = await client.check_status("t1")
    assert check.outcome is expected
    assert check.rc == rc
    assert not check.refused


async def test_v1_field_names_and_string_values(fake_iak: FakeIak, client: IakClient) -> None:
    fake_iak.add(
        {
            "ref_id": "v1order",
            "status": "2",
            "code": "hindosat5000",
            "hp": "085612345678",
            "price": "5500",
            "balance": "1000000.00",
            "tr_id": "99",
            "rc": "7",
            "message": "FAILED",
        }
    )
    check = await client.check_status("v1order")
    assert check.outcome is Outcome.FAILED
    assert check.rc == "07"
    assert check.transaction is not None
    assert check.transaction.product_code == "hindosat5000"
    assert check.transaction.customer_id == "085612345678"
    assert check.transaction.price == 5500
    assert check.transaction.balance == 1000000


@pytest.mark.parametrize("http_status", [200, 400])
async def test_not_found_is_read_on_200_and_400(
    fake_iak: FakeIak, client: IakClient, http_status: int
) -> None:
    fake_iak.always("missing", IakReply(http_status, NOT_FOUND))
    check = await client.check_status("missing")
    assert check.rc == "06"
    assert check.refused
    assert check.outcome is Outcome.UNKNOWN
    assert check.failure is None
    assert check.answer.http_status == http_status
    assert len(fake_iak.calls) == 1  # a refusal is an answer: never retried


async def test_refusal_with_a_status_still_says_nothing_of_the_top_up(
    fake_iak: FakeIak, client: IakClient
) -> None:
    fake_iak.always("x", IakReply(400, {"ref_id": "x", "status": 2, "rc": "06"}))
    check = await client.check_status("x")
    assert check.outcome is Outcome.UNKNOWN


async def test_wrong_api_key_gets_204_from_iak(
    fake_iak: FakeIak, make_client: ClientFactory
) -> None:
    fake_iak.add(transaction("order001"))
    check = await make_client(api_key="the-production-key").check_status("order001")
    assert check.rc == "204"
    assert check.refused
    assert check.outcome is Outcome.UNKNOWN


async def test_ip_not_whitelisted_is_102(fake_iak: FakeIak, client: IakClient) -> None:
    fake_iak.block_ip()
    check = await client.check_status("order001")
    assert check.rc == "102"
    assert check.refused
    balance = await client.check_balance()
    assert balance.rc == "102"
    assert balance.balance is None


async def test_5xx_is_retried_twice_then_reported(fake_iak: FakeIak, client: IakClient) -> None:
    fake_iak.always("busy", IakReply(503, raw=b"<html>Service Unavailable</html>"))
    check = await client.check_status("busy")
    assert len(fake_iak.calls_for("busy")) == 3
    assert check.answer.attempts == 3
    assert check.failure is not None
    assert check.failure.kind is ErrorKind.HTTP_STATUS
    assert check.failure.http_status == 503
    assert check.outcome is Outcome.UNKNOWN


async def test_a_retry_that_succeeds_gives_the_answer(fake_iak: FakeIak, client: IakClient) -> None:
    fake_iak.add(transaction("flaky"))
    fake_iak.script("flaky", IakReply(502, raw=b"bad gateway"), IakReply(drop=True))
    check = await client.check_status("flaky")
    assert check.outcome is Outcome.SUCCESS
    assert check.answer.attempts == 3
    assert len(fake_iak.calls_for("flaky")) == 3


async def test_backoff_grows_between_retries(fake_iak: FakeIak, make_client: ClientFactory) -> None:
    fake_iak.always("busy", IakReply(500, raw=b"oops"))
    # jitter 0.5 makes the multiplier exactly 1: waits of 0.04 s, then 0.08 s.
    client = make_client(limits=CallLimits(deadline=5, backoff=0.04), jitter=lambda: 0.5)
    await client.check_status("busy")
    first, second, third = (call.at for call in fake_iak.calls_for("busy"))
    assert second - first >= 0.04
    assert third - second >= 0.08


async def test_client_errors_and_garbage_are_not_retried(
    fake_iak: FakeIak, client: IakClient
) -> None:
    fake_iak.always("gone", IakReply(404, raw=b"Not Found"))
    fake_iak.always("html", IakReply(200, raw=b"<html>maintenance</html>"))
    fake_iak.always("nodata", IakReply(200, raw=b'{"status": "ok"}'))
    fake_iak.always("badstatus", IakReply(200, {"ref_id": "badstatus", "status": 7}))
    expected = {
        "gone": ErrorKind.HTTP_STATUS,
        "html": ErrorKind.UNPARSEABLE,
        "nodata": ErrorKind.UNPARSEABLE,
        "badstatus": ErrorKind.UNPARSEABLE,
    }
    for ref_id, kind in expected.items():
        check = await client.check_status(ref_id)
        assert check.failure is not None, ref_id
        assert check.failure.kind is kind, ref_id
        assert check.outcome is Outcome.UNKNOWN
        assert len(fake_iak.calls_for(ref_id)) == 1, ref_id


async def test_a_hang_ends_at_the_deadline(fake_iak: FakeIak, make_client: ClientFactory) -> None:
    fake_iak.always("slow", IakReply(200, transaction("slow"), delay=30))
    client = make_client(limits=CallLimits(connect_timeout=1, deadline=0.15))
    started = time.monotonic()
    check = await client.check_status("slow")
    elapsed = time.monotonic() - started
    assert 0.15 <= elapsed < 0.9
    assert check.failure is not None
    assert check.failure.kind is ErrorKind.TIMEOUT
    assert "0.15 s" in check.failure.detail
    assert check.outcome is Outcome.UNKNOWN


async def test_retries_stay_within_the_deadline(
    fake_iak: FakeIak, make_client: ClientFactory
) -> None:
    # Attempts end at ~0.2 s and ~0.4 s; the third would end at ~0.6 s, past the deadline.
    fake_iak.always("sluggish", IakReply(503, raw=b"busy", delay=0.2))
    client = make_client(limits=CallLimits(deadline=0.5, backoff=0.01))
    started = time.monotonic()
    check = await client.check_status("sluggish")
    # the third attempt was cut at the deadline, not left to run its 0.2 s
    assert time.monotonic() - started < 2.0
    assert check.failure is not None
    assert check.failure.kind is ErrorKind.TIMEOUT
    assert "HTTP 503" in check.failure.detail  # what happened before the deadline


async def test_unreachable_iak(make_client: ClientFactory) -> None:
    client = make_client(base_url="http://127.0.0.1:9")
    check = await client.check_status("order001")
    assert check.failure is not None
    assert check.failure.kind is ErrorKind.UNREACHABLE
    assert check.answer.attempts == 3
    balance = await client.check_balance()
    assert balance.failure is not None
    assert balance.failure.kind is ErrorKind.UNREACHABLE


async def test_connections_are_pooled(fake_iak: FakeIak, client: IakClient) -> None:
    fake_iak.add(transaction("a"))
    for _ in range(3):
        await client.check_status("a")
    await client.check_balance()
    assert len({call.client_port for call in fake_iak.calls}) == 1


async def test_check_balance(fake_iak: FakeIak, client: IakClient) -> None:
    check = await client.check_balance()
    (call,) = fake_iak.calls
    assert call.path == "/api/check-balance"
    assert call.body == {
        "username": IAK_USERNAME,
        "sign": iak_sign(IAK_USERNAME, IAK_API_KEY, "bl"),
    }
    assert check.balance == 997136249
    assert check.failure is None


async def test_balance_as_string_refused_or_garbage(
    fake_iak: FakeIak, make_client: ClientFactory
) -> None:
    client = make_client()
    fake_iak.script(
        BALANCE,
        IakReply(200, {"balance": "250000", "message": "SUCCESS", "rc": "00"}),
        IakReply(200, {"message": "SUCCESS", "rc": "00"}),
    )
    assert (await client.check_balance()).balance == 250000
    missing = await client.check_balance()
    assert missing.failure is not None and missing.failure.kind is ErrorKind.UNPARSEABLE
    refused = await make_client(api_key="wrong").check_balance()
    assert refused.rc == "204"
    assert refused.balance is None
    assert refused.failure is None


async def test_never_logs_the_api_key_or_a_sign(
    fake_iak: FakeIak, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_iak.add(transaction("order001"))
    fake_iak.always("busy", IakReply(503, raw=b"busy"))
    fake_iak.always("slow", IakReply(200, transaction("slow"), delay=5))
    client = make_client(limits=CallLimits(deadline=0.1, backoff=0.01))
    await client.check_status("order001")
    await client.check_status("busy")
    await client.check_status("slow")
    await client.check_balance()
    await client.check_postpaid_status("bill001")
    await client.price_list(Line.PREPAID)
    await client.price_list(Line.POSTPAID)
    await make_client(api_key="another-secret-key").check_status("order001")
    await make_client(api_key="another-secret-key").check_postpaid_status("bill001")
    await make_client(base_url="http://127.0.0.1:9").check_status("order001")
    logged = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''}" for record in caplog.records
    )
    assert "order001" in logged  # the logs do say what was checked
    secrets = {IAK_API_KEY, "another-secret-key"}
    secrets |= {str(call.body["sign"]) for call in fake_iak.calls}
    for secret in secrets:
        assert secret not in logged


async def test_from_settings_names_missing_credentials(
    make_settings: Callable[..., Any], registry: Registry
) -> None:
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match="IAK_API_KEY"):
        IakClient.from_settings(make_settings(iak_api_key=None), registry)
    settings = make_settings(iak_env="production", iak_base_url=None, iak_postpaid_base_url=None)
    async with IakClient.from_settings(settings, registry) as client:
        assert client.endpoint == IakEndpoint("production", "https://prepaid.iak.id")
        assert client.postpaid_endpoint == IakEndpoint(
            "production", "https://mobilepulsa.net", Line.POSTPAID
        )
        assert client.limits == CallLimits(connect_timeout=5.0, deadline=10.0)
