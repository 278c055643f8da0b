"""Scenario: IAK's callbacks and the ingest API over real HTTP, on SQLite and Postgres."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select

from bot.intake import Intake
from bot.outcomes import Outcome
from bot.store.schema import transaction_events, transactions
from tests.support.bot import RunningBot
from tests.support.intake import INGEST_TOKEN, callback_body, iak_sign, topup_answer
from tests.support.metrics import METRICS_TOKEN, OPERATOR, health_details


@pytest.fixture
def bot(start_bot: Callable[..., RunningBot], database_url: str) -> RunningBot:
    return start_bot(
        database_url=database_url, ingest_token=INGEST_TOKEN, metrics_token=METRICS_TOKEN
    )


def post(bot: RunningBot, path: str, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        bot.url + path, content=content, headers={"Content-Type": "application/json", **headers}
    )


def ingest(bot: RunningBot, body: Any, token: str = INGEST_TOKEN) -> httpx.Response:
    return post(bot, "/transactions", body, Authorization=f"Bearer {token}")


def stored(bot: RunningBot, table: Any = transactions) -> int:
    with bot.bot.services.database.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_iaks_sample_callback_is_stored(bot: RunningBot) -> None:
    response = post(bot, "/iak/callback", callback_body())
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "ref_id": "order002",
        "outcome": "success",
        "duplicate": False,
    }
    state = bot.bot.services.database.transactions.get("order002")
    assert state is not None
    assert state.outcome is Outcome.SUCCESS
    assert state.balance == 997061249


def test_v1_callback_with_numbers(bot: RunningBot) -> None:
    body = {
        "data": {
            "ref_id": "v1-1",
            "status": 2,
            "code": "hindosat5000",
            "hp": "0856123456",
            "rc": 17,
            "sign": iak_sign("v1-1"),
        }
    }
    assert post(bot, "/iak/callback", body).json()["outcome"] == "failed"
    state = bot.bot.services.database.transactions.get("v1-1")
    assert state is not None and state.product_code == "hindosat5000" and state.rc == "17"


@pytest.mark.parametrize("sign", ["0" * 32, "", None])
def test_bad_or_missing_sign_is_401_and_stores_nothing(bot: RunningBot, sign: str | None) -> None:
    body = callback_body()
    if sign is None:
        del body["data"]["sign"]
    else:
        body["data"]["sign"] = sign
    response = post(bot, "/iak/callback", body)
    assert response.status_code == 401
    assert response.json()["ok"] is False
    assert stored(bot) == 0


def test_sign_for_another_ref_id_is_refused(bot: RunningBot) -> None:
    body = callback_body("order009", sign=iak_sign("order002"))
    assert post(bot, "/iak/callback", body).status_code == 401


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        ({"ref_id": "order002"}, '"data" object'),
        ({"data": "x"}, '"data" object'),
        ({"data": {"status": "1"}}, "ref_id"),
        ({"data": {"ref_id": "has space"}}, "ref_id"),
    ],
)
def test_malformed_callbacks_get_400_saying_what_is_wrong(
    bot: RunningBot, body: Any, says: str
) -> None:
    response = post(bot, "/iak/callback", body)
    assert response.status_code == 400
    assert says in response.json()["error"]
    assert stored(bot) == 0


def test_text_a_database_cannot_hold_is_400(bot: RunningBot) -> None:
    for field, value in (("sn", "\ud800"), ("message", "a\x00b")):
        response = post(bot, "/iak/callback", json.dumps(callback_body(**{field: value})).encode())
        assert response.status_code == 400, response.text
        assert field in response.json()["error"]
    assert stored(bot) == 0
    # fields we do not use are ignored, whatever they hold
    extra = callback_body(pin="\x00\ud800", activation_code=[1, 2])
    assert post(bot, "/iak/callback", extra).status_code == 200


def test_unknown_status_is_400(bot: RunningBot) -> None:
    response = post(bot, "/iak/callback", callback_body(status="7"))
    assert response.status_code == 400
    assert "status" in response.json()["error"]
    assert stored(bot) == 0


def test_over_64_kib_is_413(bot: RunningBot) -> None:
    body = callback_body(message="x" * (65 * 1024))
    assert post(bot, "/iak/callback", body).status_code == 413
    assert ingest(bot, topup_answer(message="x" * (65 * 1024))).status_code == 413


def test_a_duplicate_callback_is_200_and_stored_once(bot: RunningBot) -> None:
    first = post(bot, "/iak/callback", callback_body())
    second = post(bot, "/iak/callback", callback_body())
    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate"] is True
    assert stored(bot, transaction_events) == 1


def test_pending_ingest_then_callback_then_late_pending(bot: RunningBot) -> None:
    assert ingest(bot, topup_answer("order001")).json()["outcome"] == "pending"
    assert post(bot, "/iak/callback", callback_body("order001")).json()["outcome"] == "success"
    late = ingest(bot, topup_answer("order001", message="PROCESS again"))
    assert late.status_code == 200
    assert late.json()["outcome"] == "success"
    history = bot.bot.services.database.transactions.history("order001").events
    assert [event.outcome for event in history] == [
        Outcome.PENDING,
        Outcome.SUCCESS,
        Outcome.PENDING,
    ]
    assert [event.applied for event in history] == [True, True, False]


def test_ingest_needs_the_bearer_token(bot: RunningBot) -> None:
    assert post(bot, "/transactions", topup_answer()).status_code == 401
    wrong = ingest(bot, topup_answer(), token="wrong")
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert stored(bot) == 0


def test_ingest_is_503_without_a_token_configured(start_bot: Callable[..., RunningBot]) -> None:
    bot = start_bot()
    response = ingest(bot, topup_answer())
    assert response.status_code == 503
    assert "INGEST_TOKEN" in response.json()["error"]


def test_ingest_created_at(bot: RunningBot) -> None:
    body = {**topup_answer("order007"), "created_at": "2026-11-28T10:00:00+07:00"}
    assert ingest(bot, body).status_code == 200
    state = bot.bot.services.database.transactions.get("order007")
    assert state is not None and state.created_at is not None
    assert state.created_at.isoformat() == "2026-11-28T03:00:00+00:00"
    for bad in ("yesterday", 12345, "2026-11-28T10:00:00"):
        response = ingest(bot, {**topup_answer("order008"), "created_at": bad})
        assert response.status_code == 400
        assert "created_at" in response.json()["error"]


def test_concurrent_callbacks_for_one_ref_id(bot: RunningBot) -> None:
    bodies = [callback_body("order010", balance=str(1000 - n)) for n in range(20)]
    bodies += [topup_answer("order010", balance=2000 + n) for n in range(20)]
    statuses: list[int] = []

    def send(body: dict[str, Any]) -> None:
        if "sign" in body["data"]:
            statuses.append(post(bot, "/iak/callback", body).status_code)
        else:
            statuses.append(ingest(bot, body).status_code)

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * 40
    state = bot.bot.services.database.transactions.get("order010")
    assert state is not None and state.outcome is Outcome.SUCCESS
    assert stored(bot, transaction_events) == 40


def test_callback_allowlist_uses_the_routers_last_hop(start_bot: Callable[..., RunningBot]) -> None:
    bot = start_bot(callback_allowed_ips=["52.220.38.194", "10.1.0.0/16"])
    body = callback_body()
    refused = post(bot, "/iak/callback", body)  # from 127.0.0.1
    assert refused.status_code == 403
    spoofed_first_hop = post(
        bot, "/iak/callback", body, **{"X-Forwarded-For": "52.220.38.194, 1.2.3.4"}
    )
    assert spoofed_first_hop.status_code == 403
    allowed = post(bot, "/iak/callback", body, **{"X-Forwarded-For": "1.2.3.4, 52.220.38.194"})
    assert allowed.status_code == 200
    assert (
        post(
            bot, "/iak/callback", callback_body("o-2"), **{"X-Forwarded-For": "10.1.2.3"}
        ).status_code
        == 200
    )


def test_openapi_describes_both_routes(bot: RunningBot) -> None:
    spec = httpx.get(bot.url + "/openapi.json", headers=OPERATOR).json()
    callback = spec["paths"]["/iak/callback"]["post"]
    schema = callback["requestBody"]["content"]["application/json"]["schema"]
    assert "sign" in schema["properties"]["data"]["required"]
    assert {"200", "400", "401", "413"} <= set(callback["responses"])
    ingest_op = spec["paths"]["/transactions"]["post"]
    assert (
        "created_at"
        in ingest_op["requestBody"]["content"]["application/json"]["schema"]["properties"]
    )
    assert "INGEST_TOKEN" in ingest_op["description"]
    assert "/slack/events" not in spec["paths"]


def test_health_reports_the_database(bot: RunningBot) -> None:
    response = httpx.get(bot.url + "/healthz", headers=OPERATOR)
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"]) == ("ok", "ok")
    assert body["outbox"] == {
        "backlog": 0,
        "oldest_undelivered_age_seconds": None,
        "failed": 0,
        "given_up": 0,
        "last_failure": None,
    }


def test_a_chunked_body_over_64_kib_is_413(bot: RunningBot) -> None:
    """Without a Content-Length the body is read in pieces and refused once over the limit."""

    def pieces() -> Any:
        yield json.dumps(callback_body()).encode()[:-2]
        for _ in range(80):
            yield b" " * 1024
        yield b"}}"

    response = httpx.post(
        bot.url + "/iak/callback", content=pieces(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert stored(bot) == 0


def test_intake_answers_carry_a_request_id_and_other_methods_get_405(bot: RunningBot) -> None:
    response = post(bot, "/iak/callback", callback_body(), **{"X-Request-ID": "iak-retry-1"})
    assert response.headers["x-request-id"] == "iak-retry-1"
    assert httpx.get(bot.url + "/iak/callback").status_code == 405
    assert httpx.get(bot.url + "/transactions").status_code == 405


async def test_the_documented_fastapi_routes_answer_like_the_fast_path(
    bot: RunningBot,
) -> None:
    """The FastAPI routes (what the OpenAPI page documents) hand over to the same handlers,
    so the app behaves the same without the fast path in front."""
    from fastapi import FastAPI

    from bot.intake_http import IntakeHandlers
    from bot.web import SlackEvents, add_post_routes, post_routes

    intake = Intake(
        bot.bot.services.settings,
        bot.bot.services.registry,
        bot.bot.services.database,
        bot.bot.services.clock,
    )
    app = FastAPI()
    add_post_routes(app, post_routes(SlackEvents(bot.bot.slack), IntakeHandlers(intake)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
        answer = await client.post("/iak/callback", json=callback_body("plain-1"))
        refused = await client.post("/iak/callback", json=callback_body("plain-2", sign="0" * 32))
        unauthorised = await client.post("/transactions", json=topup_answer("plain-3"))
        ingested = await client.post(
            "/transactions",
            json=topup_answer("plain-4"),
            headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
        )
    assert (answer.status_code, answer.json()["outcome"]) == (200, "success")
    assert refused.status_code == 401
    assert unauthorised.status_code == 401
    assert unauthorised.headers["www-authenticate"] == "Bearer"
    assert (ingested.status_code, ingested.json()["outcome"]) == (200, "pending")
    assert stored(bot) == 2


def test_a_not_found_answer_never_decides_and_a_later_callback_does(bot: RunningBot) -> None:
    """A check-status answer of 06 forwarded by the backend is not a failure: IAK's signed
    success callback that follows is what the transaction becomes."""
    not_found = topup_answer("lost1", status=2, rc="06", message="TRANSACTION NOT FOUND")
    answer = ingest(bot, not_found)
    assert answer.status_code == 200 and answer.json()["outcome"] == "unknown"
    assert post(bot, "/iak/callback", callback_body("lost1")).json()["outcome"] == "success"
    state = bot.bot.services.database.transactions.get("lost1")
    assert state is not None and state.outcome is Outcome.SUCCESS


@pytest.mark.parametrize("field", ["product_code", "customer_id", "tr_id", "rc"])
@pytest.mark.parametrize("length", [101, 500])
def test_a_field_longer_than_the_store_keeps_is_400_naming_it(
    bot: RunningBot, field: str, length: int
) -> None:
    """Whatever validation accepts the database stores: too long is a 400 that says which
    field, never a 503 that a sender would retry forever."""
    for route, body in (
        ("/iak/callback", callback_body("long1", **{field: "7" * length})),
        ("/transactions", topup_answer("long1", **{field: "A" * length})),
    ):
        response = post(bot, route, body) if route == "/iak/callback" else ingest(bot, body)
        assert response.status_code == 400, response.text
        assert f"data.{field}" in response.json()["error"]
    assert stored(bot) == 0
    exact = {"product_code": "p" * 100, "customer_id": "1" * 100, "tr_id": "9" * 100}
    assert post(bot, "/iak/callback", callback_body("long2", **exact)).status_code == 200
    state = bot.bot.services.database.transactions.get("long2")
    assert state is not None and state.customer_id == "1" * 100


@pytest.mark.parametrize("status", ["1.0", 1.0, "1.00", 1])
def test_a_status_written_with_a_fraction_is_accepted(bot: RunningBot, status: Any) -> None:
    response = post(bot, "/iak/callback", callback_body("frac", status=status))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "success"


@pytest.mark.parametrize(
    ("created_at", "says"),
    [
        ("0001-01-01T00:00:00+14:00", "out of range"),
        ("9999-12-31T23:59:59-14:00", "out of range"),
        ("1999-12-31T23:59:59+07:00", "before 2000"),
        ("2999-01-01T00:00:00+07:00", "future"),
        ("2026-11-28T10:00:00", "UTC offset"),
    ],
)
def test_an_impossible_created_at_is_400(bot: RunningBot, created_at: str, says: str) -> None:
    response = ingest(bot, {**topup_answer(), "created_at": created_at})
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]
    assert stored(bot) == 0


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(
    start_bot: Callable[..., RunningBot],
) -> None:
    """The allow list checks who called. A caller that is not a trusted proxy cannot pose
    as IAK by writing IAK's address into X-Forwarded-For."""
    iak = "52.220.38.194"
    direct = start_bot(callback_allowed_ips=[iak], forwarded_allow_ips=["10.9.9.9"])
    spoofed = post(direct, "/iak/callback", callback_body(), **{"X-Forwarded-For": iak})
    assert spoofed.status_code == 403
    assert stored(direct) == 0


def test_every_x_forwarded_for_line_counts(start_bot: Callable[..., RunningBot]) -> None:
    """Behind a trusted proxy (the test client's loopback address), the hop that proxy
    appended is the caller, even when the header comes on several lines."""
    bot = start_bot(callback_allowed_ips=["52.220.38.194"])
    lines = [("X-Forwarded-For", "52.220.38.194"), ("X-Forwarded-For", "6.6.6.6")]
    content = json.dumps(callback_body()).encode()
    spoofed = httpx.post(
        bot.url + "/iak/callback",
        content=content,
        headers=[("Content-Type", "application/json"), *lines],
    )
    assert spoofed.status_code == 403  # the last hop, 6.6.6.6, is who called
    honest = httpx.post(
        bot.url + "/iak/callback",
        content=content,
        headers=[("Content-Type", "application/json"), *reversed(lines)],
    )
    assert honest.status_code == 200


def test_behind_a_router_that_always_appends_any_proxy_is_trusted(
    start_bot: Callable[..., RunningBot],
) -> None:
    bot = start_bot(callback_allowed_ips=["52.220.38.194"], forwarded_allow_ips=["*"])
    hops = {"X-Forwarded-For": "52.220.38.194, 10.0.0.7"}
    assert post(bot, "/iak/callback", callback_body(), **hops).status_code == 403
    hops = {"X-Forwarded-For": "6.6.6.6, 52.220.38.194"}
    assert post(bot, "/iak/callback", callback_body(), **hops).status_code == 200


def test_health_answers_a_flood_from_one_database_round(bot: RunningBot) -> None:
    """Hundreds of health checks at once cost the database a check every 2 s at most, and
    the answer names no host."""
    engine = bot.bot.services.database.engine
    statements: list[str] = []

    def counted(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", counted)
    try:
        with httpx.Client(timeout=10) as http, ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(lambda _: http.get(bot.url + "/healthz"), range(200)))
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    assert {answer.status_code for answer in answers} == {200}
    pings = [statement for statement in statements if "SELECT 1" in statement.upper()]
    assert 1 <= len(pings) <= 3, statements
    assert socket.gethostname() not in answers[0].text


def test_production_without_an_allow_list_is_a_warning_in_health(
    start_bot: Callable[..., RunningBot],
) -> None:
    bot = start_bot(iak_env="production", metrics_token=METRICS_TOKEN)
    warnings = health_details(bot.url)["warnings"]
    assert any("CALLBACK_ALLOWED_IPS" in warning for warning in warnings)
    quiet = start_bot(
        iak_env="production",
        callback_allowed_ips=["52.220.38.194"],
        allowed_channels=["C0OPS0001"],
        metrics_token=METRICS_TOKEN,
    )
    assert health_details(quiet.url)["warnings"] == []


def test_a_serial_that_grows_when_upper_cased_is_stored(bot: RunningBot) -> None:
    """`ß` upper-cases to `SS`: a 500-character sn, the longest the route takes, must not
    become a serial key longer than its column (Postgres refused the whole callback)."""
    answer = post(bot, "/iak/callback", callback_body("long-sn", sn="ß" * 500))
    assert answer.status_code == 200, answer.text
    stored_state = bot.bot.services.database.transactions.get("long-sn")
    assert stored_state is not None and stored_state.sn == "ß" * 500
