"""SENTRY_DSN: an error raised while serving a route reaches Sentry (a loopback fake here),
scrubbed as the logs are: no token, key, sign or customer number that the request carried."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx
import pytest
import sentry_sdk

from bot.error_tracking import start_error_tracking
from bot.intake import Intake
from tests.support.bot import IAK_API_KEY, IAK_USERNAME, RunningBot, SettingsFactory
from tests.support.fakes.sentry import FakeSentry
from tests.support.intake import INGEST_TOKEN, callback_body, iak_sign

CUSTOMER = "081298765432"


@pytest.fixture
def fake_sentry() -> Iterator[FakeSentry]:
    with FakeSentry() as fake:
        yield fake
        # Sentry is process-wide: later tests must report nothing anywhere.
        sentry_sdk.get_client().close(timeout=2)
        sentry_sdk.get_global_scope().set_client(None)


def test_without_sentry_dsn_nothing_is_started(make_settings: SettingsFactory) -> None:
    assert start_error_tracking(make_settings()) is False


def test_an_error_in_a_route_reaches_sentry_without_secrets(
    fake_sentry: FakeSentry,
    make_settings: SettingsFactory,
    start_bot: Callable[..., RunningBot],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert start_error_tracking(
        make_settings(sentry_dsn=fake_sentry.dsn, ingest_token=INGEST_TOKEN)
    )
    bot = start_bot(sentry_dsn=fake_sentry.dsn, ingest_token=INGEST_TOKEN)

    async def broken(self: Intake, body: bytes, **headers: str | None) -> None:
        # the worst kind of bug: one that puts the whole request in its message
        raise RuntimeError(f"could not store {body.decode()} sent with {headers}")

    monkeypatch.setattr(Intake, "callback", broken)
    body = callback_body("order-boom", customer_id=CUSTOMER)
    answer = httpx.post(
        bot.url + "/iak/callback",
        json=body,
        headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 500

    envelope, event = fake_sentry.wait_for_event()
    assert "RuntimeError" in envelope and "could not store" in envelope
    assert "order-boom" in envelope  # what ops need to follow it up stays
    assert "081***432" in envelope  # the customer number, masked as in the logs
    for secret in (CUSTOMER, iak_sign("order-boom"), INGEST_TOKEN, IAK_API_KEY, IAK_USERNAME):
        assert secret not in envelope, secret
    # Sentry's own ids are left alone, so events stay apart
    assert re.fullmatch(r"[0-9a-f]{32}", event["event_id"])
