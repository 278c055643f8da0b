"""Hostile input: schemathesis against the OpenAPI document of the two JSON routes, hypothesis
against /slack/events, replayed and forged signatures, oversized bodies, and memory that
stays bounded while it all happens."""

from __future__ import annotations

import json
import logging
import resource
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bot.app import Bot, build_bot
from bot.registry import Registry
from tests.support.bot import SIGNING_SECRET, RunningBot, bot_server, bot_settings
from tests.support.db import sqlite_copy
from tests.support.fakes.slack import FakeSlack
from tests.support.intake import INGEST_TOKEN
from tests.support.metrics import METRICS_TOKEN, OPERATOR
from tests.support.slack_requests import sign

# scenario tests: the bot runs whole, over loopback or as processes
pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def asgi_bot(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Bot]:
    directory = tmp_path_factory.mktemp("schemathesis")
    with FakeSlack() as fake:
        settings_ = bot_settings(
            fake,
            directory,
            database_url=sqlite_copy(sqlite_template, directory),
            ingest_token=INGEST_TOKEN,
            metrics_token=METRICS_TOKEN,
        )
        bot = build_bot(settings_, registry=registry)
        yield bot
        bot.services.database.close()


@pytest.fixture(scope="module")
def api_schema(asgi_bot: Bot) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", asgi_bot.web, headers=OPERATOR)


# schemathesis's own pytest plugin does not run under pytest 9 yet; its strategies do.
@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/iak/callback"), ("POST", "/transactions"), ("GET", "/healthz")]
)
def test_routes_keep_their_documented_promises(api_schema: Any, method: str, path: str) -> None:
    operation = api_schema[path][method]
    headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def fuzz(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    fuzz()


# --- /slack/events ----------------------------------------------------------------------------

slack_text = st.text(max_size=300) | st.sampled_from(
    [
        "<!channel>",
        "code <!here> `x`",
        "status <@U123|boss>",
        "code ```\n*a*```",
        "status " + "x" * 101,
    ]
)
form_fields = st.dictionaries(
    st.sampled_from(["command", "text", "user_id", "channel_id", "response_url", "team_id", "x"]),
    st.text(max_size=50),
    max_size=6,
)


@pytest.fixture(scope="module")
def slack_target(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[RunningBot]:
    with bot_server(registry, tmp_path_factory.mktemp("slackfuzz"), sqlite_template) as running:
        yield running


def signed_post(bot: RunningBot, body: str, content_type: str) -> int:
    return bot.slack.post(body, content_type=content_type).status_code


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=slack_text, extra=form_fields)
def test_signed_slash_commands_never_5xx(
    slack_target: RunningBot, text: str, extra: dict[str, str]
) -> None:
    fields = {
        "command": "/iak",
        "text": text,
        "user_id": "U1",
        "channel_id": "C1",
        "response_url": slack_target.fake_slack.base_url + "/response/fuzz",
        **extra,
    }
    status = signed_post(slack_target, urlencode(fields), "application/x-www-form-urlencoded")
    assert status < 500


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
payloads = st.fixed_dictionaries(
    {"type": st.sampled_from(["block_actions", "view_submission", "shortcut", "nonsense"])},
    optional={
        "actions": st.lists(
            st.fixed_dictionaries(
                {
                    "action_id": st.sampled_from(
                        ["share_card", "show_card_17", "recheck_status", "x"]
                    )
                },
                optional={
                    "value": st.text(max_size=30) | st.integers(),
                    "block_id": st.text(max_size=5),
                },
            ),
            max_size=2,
        ),
        "user": st.fixed_dictionaries({}, optional={"id": st.text(max_size=12)}),
        "response_url": st.just("http://127.0.0.1:9/x"),
        "container": json_values,
        "message": json_values,
    },
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=payloads | json_values)
def test_signed_interactions_never_5xx(slack_target: RunningBot, payload: Any) -> None:
    body = urlencode({"payload": json.dumps(payload)})
    assert signed_post(slack_target, body, "application/x-www-form-urlencoded") < 500


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    raw=st.binary(max_size=300),
    content_type=st.sampled_from(
        ["application/x-www-form-urlencoded", "application/json", "text/plain", ""]
    ),
)
def test_signed_garbage_never_5xx(slack_target: RunningBot, raw: bytes, content_type: str) -> None:
    stamp = str(int(time.time()))
    text = raw.decode("latin-1")
    response = slack_target.slack.http.post(
        slack_target.slack.url,
        content=raw,
        headers={
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": sign(SIGNING_SECRET, stamp, text),
        },
    )
    assert response.status_code < 500


def test_replayed_and_forged_requests_are_refused(slack_target: RunningBot) -> None:
    sender = slack_target.slack
    body = sender.command_body("code 17")
    old = int(time.time()) - 301
    replayed = sender.post(body, timestamp=old, signature=sign(SIGNING_SECRET, str(old), body))
    assert replayed.status_code == 401
    future = int(time.time()) + 301
    assert (
        sender.post(
            body, timestamp=future, signature=sign(SIGNING_SECRET, str(future), body)
        ).status_code
        == 401
    )
    stamp = str(int(time.time()))
    tampered = body.replace("code+17", "code+102")
    assert (
        sender.post(
            tampered, timestamp=int(stamp), signature=sign(SIGNING_SECRET, stamp, body)
        ).status_code
        == 401
    )
    assert sender.post(body, signature="v1=" + "a" * 64).status_code == 401
    assert sender.post(body, signature="v0=").status_code == 401


def test_memory_stays_bounded_under_hostile_load(slack_target: RunningBot) -> None:
    """Hundreds of oversized and garbage requests: the process does not grow with them."""
    sender = slack_target.slack
    big = b"x" * (600 * 1024)

    def hammer(rounds: int) -> None:
        for n in range(rounds):
            sender.http.post(sender.url, content=big)
            sender.post(sender.command_body(f"code {'<!channel> ' * 20}{n}"))
            sender.http.post(slack_target.url + "/iak/callback", content=b"{" * 5000)

    hammer(50)  # warm up caches and pools
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hammer(300)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 50 * 1024, f"grew {grown_kib} KiB over 900 hostile requests"


@pytest.mark.parametrize("stamp", ["abc", "", "1.5e9", "12abc", "-5"])
def test_a_timestamp_that_is_not_a_number_is_401_without_an_error_logged(
    slack_target: RunningBot, stamp: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = slack_target.slack.command_body("code 17")
    with caplog.at_level(logging.INFO):
        response = slack_target.slack.http.post(
            slack_target.slack.url,
            content=body.encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": sign(SIGNING_SECRET, stamp, body),
            },
        )
    assert response.status_code == 401
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_slack_events_refuses_other_methods_and_oversized_bodies(slack_target: RunningBot) -> None:
    sender = slack_target.slack
    assert sender.http.get(sender.url).status_code == 405
    too_large = sender.http.post(sender.url, content=b"x" * (513 * 1024))
    assert too_large.status_code == 413
    assert too_large.json() == {"error": "request body too large"}
    assert too_large.headers["x-request-id"]


async def test_the_fastapi_slack_route_answers_like_the_fast_path(
    slack_target: RunningBot,
) -> None:
    """Without FastPath in front, FastAPI's /slack/events route hands over to the same
    handler: a signed `/iak code 17` gets the same card, in the same answer."""
    import httpx
    from fastapi import FastAPI

    from bot.intake import Intake
    from bot.intake_http import IntakeHandlers
    from bot.web import SlackEvents, add_post_routes, post_routes

    sender = slack_target.slack
    body = sender.command_body("code 17")
    fast = sender.post(body)
    app = FastAPI()
    services = slack_target.bot.services
    intake = Intake(services.settings, services.registry, services.database, services.clock)
    add_post_routes(app, post_routes(SlackEvents(slack_target.bot.slack), IntakeHandlers(intake)))
    stamp = str(int(time.time()))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
        plain = await client.post(
            "/slack/events",
            content=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": sign(SIGNING_SECRET, stamp, body),
            },
        )
    assert fast.status_code == plain.status_code == 200
    assert fast.headers["content-type"].startswith("application/json")
    assert fast.headers["content-type"] == plain.headers["content-type"]
    assert fast.json() == plain.json()
    assert "17" in json.dumps(fast.json()["blocks"])
