"""What /healthz, /docs and /openapi.json tell a stranger, and what they tell an operator
who sends `Authorization: Bearer $METRICS_TOKEN`."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.support.bot import RunningBot
from tests.support.metrics import METRICS_TOKEN, OPERATOR

WRONG = [
    {},
    {"Authorization": f"Bearer {METRICS_TOKEN}x"},
    {"Authorization": f"Basic {METRICS_TOKEN}"},
    {"Authorization": METRICS_TOKEN},
]


@pytest.mark.parametrize("headers", WRONG)
def test_a_stranger_learns_only_that_the_bot_is_up(
    start_bot: Callable[..., RunningBot], database_url: str, headers: dict[str, str]
) -> None:
    bot = start_bot(database_url=database_url, metrics_token=METRICS_TOKEN, iak_env="production")
    response = httpx.get(bot.url + "/healthz", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_the_operator_gets_the_details(
    start_bot: Callable[..., RunningBot], database_url: str
) -> None:
    bot = start_bot(database_url=database_url, metrics_token=METRICS_TOKEN, iak_env="production")
    body = httpx.get(bot.url + "/healthz", headers=OPERATOR).json()
    assert (body["status"], body["database"]) == ("ok", "ok")
    assert {"monitor", "outbox", "slack_errors", "warnings"} <= body.keys()
    assert any("CALLBACK_ALLOWED_IPS" in warning for warning in body["warnings"])
    # nobody restricted in production: the operator is told here too, not only at start
    assert any("ALLOWED_USERS and ALLOWED_CHANNELS are empty" in w for w in body["warnings"])


def test_without_metrics_token_nobody_gets_the_details(
    start_bot: Callable[..., RunningBot],
) -> None:
    bot = start_bot()
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer None"}):
        assert httpx.get(bot.url + "/healthz", headers=headers).json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/docs", "/openapi.json"])
def test_the_api_documents_need_the_token(start_bot: Callable[..., RunningBot], path: str) -> None:
    bot = start_bot(metrics_token=METRICS_TOKEN)
    for headers in WRONG:
        response = httpx.get(bot.url + path, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert "/iak/callback" not in response.text
    response = httpx.get(bot.url + path, headers=OPERATOR)
    assert response.status_code == 200
    assert "openapi" in response.text
    # FastAPI's other page, open to anyone until now, is gone
    assert httpx.get(bot.url + "/redoc").status_code == 404


@pytest.mark.parametrize("path", ["/docs", "/openapi.json"])
def test_without_metrics_token_the_api_documents_do_not_exist(
    start_bot: Callable[..., RunningBot], path: str
) -> None:
    bot = start_bot()
    assert httpx.get(bot.url + path).status_code == 404
    assert httpx.get(bot.url + path, headers={"Authorization": "Bearer"}).status_code == 404
