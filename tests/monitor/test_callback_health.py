"""Scenario: IAK's callbacks refused or missing. Refusals go to the real POST /iak/callback
(a wrong sign, an address CALLBACK_ALLOWED_IPS refuses, a body that is not JSON); outcomes
learned without a callback come through POST /transactions; the alert is read off the
fake Slack, on SQLite and Postgres."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from tests.conftest import RunningBot
from tests.fakes.clock import FakeClock
from tests.fakes.slack import FakeSlack
from tests.support.alerts import (
    Shop,
    broadcast,
    parent_ts,
    parents,
    replies,
    text_of,
    wait_until,
)
from tests.support.intake import callback_body


def watched(monitored: Callable[..., RunningBot], database_url: str, **overrides: object) -> Shop:
    bot = monitored(database_url=database_url, callback_health=True, **overrides)
    return Shop(bot)


def test_callbacks_refused_for_a_wrong_sign_blame_the_api_key_until_one_is_accepted(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, database_url: str
) -> None:
    shop = watched(monitored, database_url)
    forged = callback_body("sig1", sign="0" * 32)
    for _n in range(2):
        assert shop.raw_callback(json.dumps(forged).encode()).status_code == 401
    time.sleep(1.5)  # written, seen by many ticks: two refusals are not an incident
    assert parents(fake_slack) == []
    assert shop.raw_callback(json.dumps(forged).encode()).status_code == 401
    ts = parent_ts(fake_slack)
    shown = text_of(parents(fake_slack)[0])
    assert "IAK callbacks refused" in shown
    assert "*3* refused for a wrong sign (401)" in shown
    assert "IAK_API_KEY is the key of the other environment" in shown

    shop.callback("good1", "1", "00")  # IAK's key is right again: a callback is accepted
    wait_until(lambda: any("accepted again" in text_of(c) for c in replies(fake_slack, ts)))
    resolved = next(c for c in replies(fake_slack, ts) if "accepted again" in text_of(c))
    assert broadcast(resolved)
    wait_until(lambda: any("Resolved" in text_of(c) for c in fake_slack.calls_to("chat.update")))
    assert len(parents(fake_slack)) == 1


def test_callbacks_from_an_address_the_allowlist_refuses_name_that_address(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, database_url: str
) -> None:
    # IAK's production address is allowed; IAK (or a proxy in front of the bot) calls from
    # another one.
    shop = watched(monitored, database_url, callback_allowed_ips="52.220.38.194")
    body = json.dumps(callback_body("ip1")).encode()
    for _n in range(3):
        assert shop.raw_callback(body, forwarded_for="10.9.8.7").status_code == 403
    ts = parent_ts(fake_slack)
    shown = text_of(parents(fake_slack)[0])
    assert "*3* refused by CALLBACK_ALLOWED_IPS (403), the last from *10.9.8.7*" in shown
    assert "add 10.9.8.7 if it is IAK's" in shown
    # from IAK's own address it is accepted, and that resolves it
    assert shop.raw_callback(body, forwarded_for="52.220.38.194").status_code == 200
    wait_until(lambda: any("accepted again" in text_of(c) for c in replies(fake_slack, ts)))


def test_unreadable_callbacks_say_what_was_wrong(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, database_url: str
) -> None:
    shop = watched(monitored, database_url)
    for _n in range(3):
        assert shop.raw_callback(b"ref_id=abc&status=1").status_code == 400
    parent_ts(fake_slack)
    shown = text_of(parents(fake_slack)[0])
    assert "*3* refused as unreadable (400)" in shown
    assert "body is not valid JSON" in shown
    assert "a body we cannot read" in shown


def test_callbacks_too_large_to_read_are_refusals_too(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, database_url: str
) -> None:
    shop = watched(monitored, database_url)
    padded = b'{"data": {"ref_id": "big", "pad": "' + b"x" * 70_000 + b'"}}'
    for _n in range(3):
        assert shop.raw_callback(padded).status_code == 413
    parent_ts(fake_slack)
    shown = text_of(parents(fake_slack)[0])
    assert "*3* refused as too large (413, over 64 KiB)" in shown


def test_outcomes_learned_only_from_the_backend_mean_callbacks_are_missing(
    monitored: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    clock: FakeClock,
    database_url: str,
) -> None:
    shop = watched(monitored, database_url)
    for n in range(4):
        shop.forward(f"fin{n}", status=1, rc="00")
    time.sleep(0.5)
    assert parents(fake_slack) == []  # four finals in an hour: not yet
    shop.forward("fin4", status=2, rc="14")
    ts = parent_ts(fake_slack)
    shown = text_of(parents(fake_slack)[0])
    assert "IAK callbacks missing" in shown
    assert "*5* transactions reached a final outcome" in shown
    assert "Likely cause: the callback URL is not set in" in shown
    assert "<https://developer.iak.id/dev-setting|IAK's developer settings>" in shown
    clock.advance(minutes=10)
    shop.callback("fin0", "1", "00")  # IAK's callback arrives after all
    wait_until(lambda: any("accepted again" in text_of(c) for c in replies(fake_slack, ts)))
    time.sleep(0.3)
    assert len(parents(fake_slack)) == 1  # the hour's callback keeps it from reopening


def test_postpaid_bills_never_make_callbacks_look_missing(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, database_url: str
) -> None:
    """IAK never calls back a postpaid bill: bills paid and forwarded by the backend are
    no sign that prepaid callbacks stopped."""
    shop = watched(monitored, database_url)
    for n in range(8):
        shop.bill(f"paid{n}")
    time.sleep(0.5)
    assert parents(fake_slack) == []


def test_callback_health_is_off_by_default_with_the_sandbox(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    shop = Shop(monitored())  # IAK_ENV=development, CALLBACK_HEALTH unset
    for n in range(5):
        shop.forward(f"dev{n}", status=1, rc="00")
    for _n in range(3):
        assert shop.raw_callback(b"{}").status_code == 400
    time.sleep(1.5)
    assert not any("callbacks" in text_of(c) for c in parents(fake_slack))
