"""Scenario: IAK's callbacks refused or missing. Refusals go to the real POST /iak/callback
(a wrong sign, an address CALLBACK_ALLOWED_IPS refuses, a body that is not JSON); outcomes
learned without a callback come through POST /transactions; the alert is read off the
fake Slack, on SQLite and Postgres."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.support.alerts import (
    Shop,
    broadcast,
    parent_ts,
    parents,
    posts,
    replies,
    settle,
    text_of,
    wait_until,
)
from tests.support.bot import RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.slack import FakeSlack
from tests.support.intake import callback_body

# Where IAK's documentation says its sandbox calls back from (IAK_ENV=development).
IAK_SANDBOX = "52.76.169.212"
STRANGER = "203.0.113.9"


def watched(monitored: Callable[..., RunningBot], database_url: str, **overrides: object) -> Shop:
    bot = monitored(database_url=database_url, callback_health=True, **overrides)
    return Shop(bot)


def test_refusals_from_strangers_never_open_an_incident(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, database_url: str
) -> None:
    """Anyone on the internet can POST to the callback route: wrong signs, unreadable and
    oversized bodies, for ref_ids the bot never saw, open nothing and page nobody."""
    shop = watched(monitored, database_url, escalate_after_seconds=1, oncall_mention="S0ONCALL")
    for n in range(4):
        forged = json.dumps(callback_body(f"nobody{n}", sign="0" * 32)).encode()
        assert shop.raw_callback(forged, forwarded_for=STRANGER).status_code == 401
        assert shop.raw_callback(b"not json", forwarded_for=STRANGER).status_code == 400
        assert shop.raw_callback(b"{" + b" " * 70_000, forwarded_for=STRANGER).status_code == 413
    settle(shop.bot)  # past the refusals' write, and many ticks
    assert parents(fake_slack) == []


def test_a_wrong_sign_for_a_stored_ref_id_counts_whoever_sent_it(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, database_url: str
) -> None:
    """A ref_id the bot already holds is plausibly IAK's callback with the other
    environment's key, wherever it came from."""
    shop = watched(monitored, database_url)
    shop.pending("known1")
    forged = json.dumps(callback_body("known1", sign="0" * 32)).encode()
    for _n in range(3):
        assert shop.raw_callback(forged, forwarded_for=STRANGER).status_code == 401
    parent_ts(fake_slack)
    assert "*3* refused for a wrong sign (401)" in text_of(parents(fake_slack)[0])


def test_a_callbacks_incident_never_pages_on_call(
    monitored: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    clock: FakeClock,
    database_url: str,
) -> None:
    shop = watched(monitored, database_url, escalate_after_seconds=60, oncall_mention="S0ONCALL")
    for _n in range(3):
        assert shop.raw_callback(b"garbage", forwarded_for=IAK_SANDBOX).status_code == 400
    ts = parent_ts(fake_slack)
    clock.advance(hours=2)  # far past any escalation
    settle(shop.bot)
    said = [text_of(call) for call in posts(fake_slack)]
    assert not any("S0ONCALL" in text or "nobody has acknowledged" in text for text in said)
    assert replies(fake_slack, ts) == []


def test_callbacks_refused_for_a_wrong_sign_blame_the_api_key_until_one_is_accepted(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, database_url: str
) -> None:
    shop = watched(monitored, database_url)
    shop.pending("sig1")
    forged = callback_body("sig1", sign="0" * 32)
    for _n in range(2):
        assert shop.raw_callback(json.dumps(forged).encode()).status_code == 401
    settle(shop.bot)  # written, seen by many ticks: two refusals are not an incident
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


def test_callbacks_from_an_unknown_address_are_never_offered_for_the_allowlist(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, database_url: str
) -> None:
    # IAK's production address is allowed; someone calls from another one, for a ref_id the
    # bot holds (IAK from a new address, or a replay): named, never suggested for the list.
    shop = watched(monitored, database_url, callback_allowed_ips="52.220.38.194")
    shop.pending("ip1")
    body = json.dumps(callback_body("ip1")).encode()
    for _n in range(3):
        assert shop.raw_callback(body, forwarded_for="10.9.8.7").status_code == 403
    ts = parent_ts(fake_slack)
    shown = text_of(parents(fake_slack)[0])
    assert "*3* refused by CALLBACK_ALLOWED_IPS (403), the last from *10.9.8.7*" in shown
    assert "10.9.8.7 is not an address IAK documents" in shown
    assert "add 10.9.8.7" not in shown and "add it" not in shown
    # from IAK's own address it is accepted, and that resolves it
    assert shop.raw_callback(body, forwarded_for="52.220.38.194").status_code == 200
    wait_until(lambda: any("accepted again" in text_of(c) for c in replies(fake_slack, ts)))


def test_iaks_documented_address_left_out_of_the_allowlist_is_named_to_add(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, database_url: str
) -> None:
    shop = watched(monitored, database_url, callback_allowed_ips="10.0.0.0/8")
    body = json.dumps(callback_body("never-stored")).encode()
    for _n in range(3):
        assert shop.raw_callback(body, forwarded_for=IAK_SANDBOX).status_code == 403
    parent_ts(fake_slack)
    shown = text_of(parents(fake_slack)[0])
    assert f"leaves out {IAK_SANDBOX}, the address IAK documents for development: add it" in shown


def test_unreadable_callbacks_say_what_was_wrong(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, database_url: str
) -> None:
    shop = watched(monitored, database_url)
    for _n in range(3):
        assert (
            shop.raw_callback(b"ref_id=abc&status=1", forwarded_for=IAK_SANDBOX).status_code == 400
        )
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
        assert shop.raw_callback(padded, forwarded_for=IAK_SANDBOX).status_code == 413
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
    settle(shop.bot)
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
    settle(shop.bot)
    assert len(parents(fake_slack)) == 1  # the hour's callback keeps it from reopening


def test_postpaid_bills_never_make_callbacks_look_missing(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, database_url: str
) -> None:
    """IAK never calls back a postpaid bill: bills paid and forwarded by the backend are
    no sign that prepaid callbacks stopped."""
    shop = watched(monitored, database_url)
    for n in range(8):
        shop.bill(f"paid{n}")
    settle(shop.bot)
    assert parents(fake_slack) == []


def test_callback_health_is_off_by_default_with_the_sandbox(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    shop = Shop(monitored())  # IAK_ENV=development, CALLBACK_HEALTH unset
    for n in range(5):
        shop.forward(f"dev{n}", status=1, rc="00")
    for _n in range(3):
        assert shop.raw_callback(b"{}").status_code == 400
    settle(shop.bot)
    assert not any("callbacks" in text_of(c) for c in parents(fake_slack))
