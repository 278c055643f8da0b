"""HTTP routes: Slack's endpoint, IAK's callback, the ingest API and the health check."""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.intake import MAX_BODY, CallbackBody, IngestBody, Intake, IntakeError, Stored
from bot.logs import request_id
from bot.metrics import CONTENT_TYPE, Metrics, MetricsPage
from bot.store.database import Database

log = logging.getLogger(__name__)

# Slack's own payloads stay far below this (a block_actions body carries the whole
# message, at most a few tens of KB); anything larger is not from Slack.
MAX_SLACK_BODY = 512 * 1024
HEALTH_TIMEOUT = 3.0
HEALTH_MAX_AGE = 2.0

# Routes are added to the app itself, not through include_router: FastAPI matches included
# routers through an extra layer on every request, which costs the hot Slack path ~10%.


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# A stamp further back than this is no queue: a wrong clock or a made-up header.
MAX_QUEUE_MS = 600_000.0


def queued_ms(request_start: str, now: float) -> float | None:
    """How long a request waited between the platform's router and its handler, from the
    router's `X-Request-Start` (milliseconds since the epoch on Heroku; `t=` and seconds,
    milliseconds or microseconds from nginx and others) and `now` (time.time()). None when
    the stamp is unreadable or implausible."""
    text = request_start.strip().removeprefix("t=")
    try:
        stamp = float(text)
    except ValueError:
        return None
    if stamp > 1e14:  # microseconds
        stamp /= 1e6
    elif stamp > 1e11:  # milliseconds
        stamp /= 1e3
    waited = (now - stamp) * 1000
    if not -MAX_QUEUE_MS < waited < MAX_QUEUE_MS:
        return None
    # (a router's clock a little ahead of ours is no negative wait)
    return max(waited, 0.0)


class RequestLog:
    """Gives each request an id (the platform router's X-Request-ID when it sends a sane one),
    makes it part of every log line written while serving it, returns it in the answer, and
    logs one line per request, with how long it queued before its handler started when the
    router says when it arrived (X-Request-Start): a worker whose event loop is held shows
    there, as the wait, not in the handler's own time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Ids need to be unique, not secret: a random prefix per process and a counter,
        # rather than a call for random bytes on every request.
        self._prefix = secrets.token_hex(4)
        self._count = itertools.count(1)

    def _new_id(self) -> str:
        return f"{self._prefix}{next(self._count):x}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        arrived: str | None = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                given = value.decode("latin-1")
            elif name == b"x-request-start":
                arrived = value.decode("latin-1")
        queued = queued_ms(arrived, time.time()) if arrived is not None else None
        rid = given if _REQUEST_ID.match(given) else self._new_id()
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if log.isEnabledFor(logging.INFO):
                elapsed = (time.perf_counter() - started) * 1000
                method, path = scope["method"], scope["path"]
                if queued is None:
                    log.info("%s %s %d %.1f ms", method, path, status, elapsed)
                else:
                    line = "%s %s %d %.1f ms, queued %.1f ms"
                    log.info(line, method, path, status, elapsed, queued)
            request_id.reset(token)


class SlackEvents:
    """`POST /slack/events`: slash commands, interactivity and events, verified by Bolt; a
    plain ASGI handler, served by FastPath like the intake routes."""

    def __init__(self, bolt: AsyncApp) -> None:
        self.bolt = bolt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, body, headers = await self._answer(scope, receive)
        await _send(send, status, body, headers)

    async def _answer(self, scope: Scope, receive: Receive) -> _Raw:
        # A header sent twice keeps its last value, as Bolt's own adapters do.
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        body = await _receive_body(receive, headers.get("content-length"), MAX_SLACK_BODY)
        if body is None:
            return _slack_error(413, "request body too large")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _slack_error(400, "request body is not UTF-8")
        stamp = headers.get("x-slack-request-timestamp", "").strip()
        if not stamp.isascii() or not stamp.isdigit():
            # Bolt would choke on it as a listener error; it is simply not signed by Slack.
            return _slack_error(401, "invalid request signature")
        try:
            bolt_request = AsyncBoltRequest(
                body=text,
                query=scope.get("query_string", b"").decode("latin-1"),
                headers=headers,
            )
        except Exception:  # Bolt parses the body here: broken or null JSON payloads raise
            return _slack_error(400, "unreadable request body")
        if not isinstance(bolt_request.body, dict):  # e.g. payload=null
            return _slack_error(400, "unreadable request body")
        try:
            answer = await self.bolt.async_dispatch(bolt_request)
        except Exception:
            # Listener errors reach Bolt's error handler; this is a payload Bolt itself cannot
            # digest (a signed but malformed interaction): the caller's fault, not ours.
            log.exception("Bolt could not handle a request")
            return _slack_error(400, "unreadable request")
        return (
            answer.status,
            answer.body.encode(),
            [
                (name.encode("latin-1"), value.encode("latin-1"))
                for name, value in answer.first_headers_without_set_cookie().items()
                if name != "content-length"
            ],
        )


def _slack_error(status: int, error: str) -> _Raw:
    return status, _JSON.encode({"error": error}).encode(), [_JSON_TYPE]


def add_slack_routes(app: FastAPI, events: SlackEvents) -> None:
    """`POST /slack/events` as a FastAPI route, for other methods' 405 and the app without
    FastPath in front; FastPath serves it ahead of FastAPI when it is installed."""

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events() -> Response:
        return _Delegate(events)


class StoredAnswer(BaseModel):
    """The observation is stored (or was already: IAK may stop retrying either way)."""

    ok: Literal[True] = True
    ref_id: str
    outcome: Literal["success", "failed", "pending", "unknown"] = Field(
        description="The transaction's outcome as now stored."
    )
    duplicate: bool = Field(description="The same observation had already been stored.")


class ErrorAnswer(BaseModel):
    """Nothing was stored; `error` says why."""

    ok: Literal[False] = False
    error: str


def _inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its $defs inlined, for an OpenAPI requestBody."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].split("/")[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def _request_body(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline_schema(model)}},
        }
    }


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    reasons = {
        400: "Malformed: not JSON, no data object, a missing ref_id, an unknown status.",
        401: "Authentication failed (nothing stored).",
        403: "The source address is not in CALLBACK_ALLOWED_IPS.",
        413: "Body over 64 KiB.",
        503: "Not configured, or the database is unavailable: retry later.",
    }
    return {status: {"model": ErrorAnswer, "description": reasons[status]} for status in statuses}


# An intake answer: status, JSON body, extra headers.
_Answer = tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]


def _error(exc: IntakeError) -> _Answer:
    headers = [(b"www-authenticate", b"Bearer")] if exc.status == 401 else []
    return exc.status, ErrorAnswer(error=exc.message).model_dump(), headers


def _stored(stored: Stored) -> _Answer:
    # The StoredAnswer shape, built directly: this is the hot path of every callback.
    answer = {
        "ok": True,
        "ref_id": stored.ref_id,
        "outcome": stored.outcome.value,
        "duplicate": stored.duplicate,
    }
    return 200, answer, []


# One encoder for every answer: json.dumps with options builds a new one per call.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_JSON_TYPE = (b"content-type", b"application/json")
# An answer as sent: status, body, headers (without content-length).
_Raw = tuple[int, bytes, list[tuple[bytes, bytes]]]


async def _send_json(send: Send, answer: _Answer) -> None:
    status, content, headers = answer
    await _send(send, status, _JSON.encode(content).encode(), [_JSON_TYPE, *headers])


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    """Send an answer as raw ASGI messages: what a Starlette Response sends, for less work."""
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})


class IntakeHandlers:
    """`POST /iak/callback` and `POST /transactions` as plain ASGI handlers."""

    def __init__(self, intake: Intake, metrics: Metrics | None = None) -> None:
        self.intake = intake
        self.metrics = metrics
        self._count_callback = self._counter("callback")
        self._count_ingest = self._counter("ingest")

    async def callback(self, scope: Scope, receive: Receive, send: Send) -> None:
        """IAK's callback: see add_intake_routes for the documented contract."""
        client = scope.get("client")
        peer = client[0] if client else None

        def store(body: bytes, forwarded_for: str | None) -> Awaitable[Stored]:
            return self.intake.callback(body, peer=peer, forwarded_for=forwarded_for)

        def too_large(exc: IntakeError, forwarded_for: str | None) -> None:
            self.intake.refused(exc, peer, forwarded_for)

        await _answer_intake(
            scope, receive, send, b"x-forwarded-for", store, self._count_callback, too_large
        )

    async def ingest(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The merchant backend's forwarded answer: see add_intake_routes."""

        def store(body: bytes, authorization: str | None) -> Awaitable[Stored]:
            return self.intake.ingest(body, authorization=authorization)

        await _answer_intake(scope, receive, send, b"authorization", store, self._count_ingest)

    def _counter(self, route: str) -> Callable[[int, Stored | None], None] | None:
        metrics = self.metrics
        if metrics is None:
            return None

        def count(status: int, stored: Stored | None) -> None:
            if stored is None:
                metrics.intake_answered(route, status, None, None)
            else:
                metrics.intake_answered(route, status, stored.outcome, stored.rc)

        return count


async def _answer_intake(
    scope: Scope,
    receive: Receive,
    send: Send,
    header: bytes,
    store: Callable[[bytes, str | None], Awaitable[Stored]],
    count: Callable[[int, Stored | None], None] | None,
    too_large: Callable[[IntakeError, str | None], None] | None = None,
) -> None:
    """Read the body (up to 64 KiB), store it with the one header the route needs, answer.
    A body over the limit is refused unread, and told to `too_large` with that header."""
    headers = _headers(scope, b"content-length", header)
    body = await _receive_body(receive, headers[b"content-length"], MAX_BODY)
    stored: Stored | None = None
    if body is None:
        refusal = IntakeError(413, "body over 64 KiB")
        if too_large is not None:
            too_large(refusal, headers[header])
        answer = _error(refusal)
    else:
        try:
            stored = await store(body, headers[header])
            answer = _stored(stored)
        except IntakeError as exc:
            answer = _error(exc)
        except Exception:
            # uvicorn answers 500 and logs it; the metrics count it as that answer
            if count is not None:
                count(500, None)
            raise
    if count is not None:
        count(answer[0], stored)
    await _send_json(send, answer)


def _headers(scope: Scope, *names: bytes) -> dict[bytes, str | None]:
    """The named headers (names in lower case), None when absent. A header sent on several
    lines is one comma-separated list, as HTTP defines it: a proxy's X-Forwarded-For can be
    split over lines, and a repeated Authorization then matches no token."""
    found: dict[bytes, str | None] = dict.fromkeys(names)
    for name, value in scope["headers"]:
        if name in found:
            text = value.decode("latin-1")
            before = found[name]
            found[name] = text if before is None else f"{before}, {text}"
    return found


async def _receive_body(receive: Receive, declared: str | None, limit: int) -> bytes | None:
    """The request body, or None once it is known to exceed `limit` bytes."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class _Delegate(Response):
    """A FastAPI endpoint's answer that hands the request to a plain ASGI handler."""

    def __init__(self, handler: ASGIApp) -> None:
        super().__init__()
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handler(scope, receive, send)


class FastPath:
    """Serves the POST routes that take load (Slack's endpoint, IAK's callback, the ingest
    API) straight from ASGI, ahead of FastAPI's own middleware, routing and dependency
    layers: for a callback or a slash command, those layers cost more CPU than the bot's
    own work does (benchmarks/RESULTS.md). Everything else, other methods on these paths
    included (405), goes on to FastAPI, whose routes for these paths hand over to the same
    handlers (and document the intake routes on the OpenAPI page)."""

    def __init__(self, app: ASGIApp, routes: dict[str, ASGIApp]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self.routes.get(scope["path"])
            if handler is not None:
                await handler(scope, receive, send)
                return
        await self.app(scope, receive, send)


def add_intake_routes(app: FastAPI, handlers: IntakeHandlers) -> None:
    """`POST /iak/callback` and `POST /transactions`, as FastAPI routes (documented in the
    OpenAPI page); FastPath serves them ahead of FastAPI when it is installed."""

    @app.post(
        "/iak/callback",
        summary="IAK's callback with a transaction's final result",
        description="IAK calls this URL when a transaction succeeds or fails. `data.sign` "
        "must be md5(IAK_USERNAME + IAK_API_KEY + ref_id). Answers 200 once the result is "
        "stored durably, also for a duplicate, so IAK stops retrying.",
        tags=["intake"],
        response_model=StoredAnswer,
        responses=_errors(400, 401, 403, 413, 503),
        openapi_extra=_request_body(CallbackBody),
    )
    async def iak_callback() -> Response:
        return _Delegate(handlers.callback)

    @app.post(
        "/transactions",
        summary="Forward IAK's answer to a top-up or check-status",
        description="The merchant backend forwards IAK's answer untouched "
        '(`{"data": {...}}`), optionally with `created_at`. This is how the bot learns '
        "about pending transactions: IAK never calls back while a top-up is processing. "
        "Needs `Authorization: Bearer $INGEST_TOKEN`.",
        tags=["intake"],
        response_model=StoredAnswer,
        responses=_errors(400, 401, 413, 503),
        openapi_extra=_request_body(IngestBody),
    )
    async def ingest() -> Response:
        return _Delegate(handlers.ingest)


class Health(BaseModel):
    """Whether the bot can serve; with the token, how its alerting is doing too."""

    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"] | None = None
    monitor: dict[str, Any] | None = Field(
        None, description="enabled, leader (which process), this_process_leads, last tick"
    )
    outbox: dict[str, Any] | None = Field(
        None, description="alerts not yet delivered to Slack: backlog, oldest age in seconds"
    )
    retention: dict[str, Any] | None = Field(
        None, description="RETENTION_DAYS, and the rows the leader's last run deleted and blanked"
    )
    slack_errors: dict[str, str] | None = Field(
        None, description="channels whose alerts stopped on a permanent Slack error"
    )
    warnings: list[str] | None = Field(
        None, description="settings that work but leave something open, e.g. callbacks"
    )


HealthDetails = Callable[[], dict[str, Any]]


class HealthCache:
    """The health answer, computed at most once per HEALTH_MAX_AGE however many checks
    arrive: a flood of health checks cannot starve the database pool."""

    def __init__(self, database: Database, details: HealthDetails | None) -> None:
        self.database = database
        self.details = details
        self._answer: tuple[float, int, dict[str, Any]] | None = None
        self._computing: asyncio.Task[tuple[int, dict[str, Any]]] | None = None

    async def answer(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body) no older than HEALTH_MAX_AGE."""
        cached = self._answer
        if cached is not None and time.monotonic() - cached[0] <= HEALTH_MAX_AGE:
            return cached[1], cached[2]
        if self._computing is None or self._computing.done():
            self._computing = asyncio.ensure_future(self._compute())
        # shielded: one caller going away must not cancel the others' answer
        return await asyncio.shield(self._computing)

    async def _compute(self) -> tuple[int, dict[str, Any]]:
        try:
            extra = await asyncio.wait_for(self.database.read(self._check), HEALTH_TIMEOUT)
        except Exception as exc:
            log.warning("health check: database unavailable: %s", exc.__class__.__name__)
            status = 503
            body = Health(status="unavailable", database="unavailable").model_dump(
                exclude_none=True
            )
        else:
            status = 200
            body = Health(status="ok", database="ok", **extra).model_dump(exclude_none=True)
        self._answer = (time.monotonic(), status, body)
        return status, body

    def _check(self) -> dict[str, Any]:
        self.database.transactions.ping()
        return self.details() if self.details is not None else {}


def bearer_token_matches(authorization: str | None, expected: bytes) -> bool:
    """Whether an Authorization header carries the bearer token `expected`."""
    scheme, _, given = (authorization or "").partition(" ")
    # compare_digest: how long a wrong token takes to refuse tells nothing of the right one
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)


def _unauthorized() -> JSONResponse:
    return JSONResponse(
        ErrorAnswer(error="missing or wrong bearer token").model_dump(),
        status_code=401,
        headers={"www-authenticate": "Bearer"},
    )


def add_health_route(
    app: FastAPI, database: Database, details: HealthDetails | None, token: str | None
) -> None:
    """`GET /healthz` for the platform's router and for people: the status alone, and the
    details with `Authorization: Bearer $METRICS_TOKEN`."""
    cache = HealthCache(database, details)
    expected = token.encode() if token else None

    @app.get(
        "/healthz",
        summary="Health check",
        description="`status` alone, unless the request carries "
        "`Authorization: Bearer $METRICS_TOKEN`: then the details too (the monitor, the "
        "outbox, Slack errors, warnings).",
        tags=["health"],
        response_model=Health,
        responses={503: {"model": Health, "description": "The database does not answer."}},
    )
    async def healthz(request: Request) -> Response:
        status, body = await cache.answer()
        # Which processes lead, which channel Slack refuses, what is left open: for
        # whoever holds the token, not for anyone who can reach the router.
        if expected is None or not bearer_token_matches(
            request.headers.get("authorization"), expected
        ):
            body = {"status": body["status"]}
        return JSONResponse(body, status_code=status)


def add_metrics_route(app: FastAPI, page: MetricsPage, token: str) -> None:
    """`GET /metrics` for Prometheus, behind `Authorization: Bearer $METRICS_TOKEN`."""
    expected = token.encode()

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        description="Prometheus text format. Needs `Authorization: Bearer $METRICS_TOKEN`; "
        "without METRICS_TOKEN set, this route answers 404.",
        tags=["health"],
        response_class=Response,
        responses={
            200: {"content": {CONTENT_TYPE: {}}, "description": "The metrics."},
            401: {"model": ErrorAnswer, "description": "Missing or wrong bearer token."},
        },
    )
    async def metrics(request: Request) -> Response:
        if not bearer_token_matches(request.headers.get("authorization"), expected):
            return _unauthorized()
        return Response(await page.render(), media_type=CONTENT_TYPE)


def add_docs_routes(app: FastAPI, token: str) -> None:
    """The OpenAPI document (`/openapi.json`) and its page (`/docs`), behind
    `Authorization: Bearer $METRICS_TOKEN` like the metrics: they map every route the bot
    serves, which is no stranger's business."""
    expected = token.encode()

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> Response:
        if not bearer_token_matches(request.headers.get("authorization"), expected):
            return _unauthorized()
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> Response:
        if not bearer_token_matches(request.headers.get("authorization"), expected):
            return _unauthorized()
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - docs")


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_web(
    bolt: AsyncApp,
    intake: Intake,
    database: Database,
    *,
    health: HealthDetails | None = None,
    lifespan: Lifespan | None = None,
    metrics: Metrics | None = None,
    metrics_page: MetricsPage | None = None,
    metrics_token: str | None = None,
) -> ASGIApp:
    """The ASGI app `serve` runs: every request gets its id and log line, the POST routes
    that take load take their short way (FastPath), and FastAPI serves everything else, the
    OpenAPI page included. The fast path sits outside FastAPI altogether, its outer
    middleware (error page, telemetry hooks, body limits) included; an error in one of its
    handlers is still a 500, from uvicorn."""
    handlers = IntakeHandlers(intake, metrics)
    events = SlackEvents(bolt)
    app = FastAPI(
        title="iak-bot",
        summary="Slack chat-ops bot for IAK prepaid top-ups.",
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's own pages would be open to anyone: add_docs_routes serves them instead.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    add_slack_routes(app, events)
    add_intake_routes(app, handlers)
    add_health_route(app, database, health, metrics_token)
    # Without a token these routes do not exist (404): never open to anyone.
    if metrics_page is not None and metrics_token:
        add_metrics_route(app, metrics_page, metrics_token)
    if metrics_token:
        add_docs_routes(app, metrics_token)
    fast = FastPath(
        app,
        {
            "/slack/events": events,
            "/iak/callback": handlers.callback,
            "/transactions": handlers.ingest,
        },
    )
    return RequestLog(fast)
