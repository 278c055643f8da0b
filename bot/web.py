"""HTTP: every request's id and log line, the load-taking POST routes served straight from
ASGI (FastPath) and declared once, and FastAPI for the rest."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from fastapi import FastAPI, Response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.asgi import (
    JSON,
    JSON_TYPE,
    ASGIApp,
    Message,
    Raw,
    Receive,
    Scope,
    Send,
    receive_body,
    send_raw,
)
from bot.health_http import HealthDetails, add_docs_routes, add_health_route, add_metrics_route
from bot.intake import Intake
from bot.intake_http import CALLBACK_DOCS, INGEST_DOCS, IntakeHandlers
from bot.logs import request_id
from bot.metrics import Metrics, MetricsPage
from bot.shapes import Json
from bot.store.database import Database

log = logging.getLogger(__name__)


# Slack's own payloads stay far below this (a block_actions body carries the whole
# message, at most a few tens of KB); anything larger is not from Slack.
MAX_SLACK_BODY = 512 * 1024


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


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
        await send_raw(send, status, body, headers)

    async def _answer(self, scope: Scope, receive: Receive) -> Raw:
        # A header sent twice keeps its last value, as Bolt's own adapters do.
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        body = await receive_body(receive, headers.get("content-length"), MAX_SLACK_BODY)
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


def _slack_error(status: int, error: str) -> Raw:
    return status, JSON.encode({"error": error}).encode(), [JSON_TYPE]


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


@dataclass(frozen=True)
class PostRoute:
    """A POST route that takes load, declared once: FastPath serves it straight from ASGI,
    and FastAPI gets the same path (other methods' 405, the OpenAPI page) from `docs`."""

    path: str
    handler: ASGIApp
    # FastAPI's options for the route: summary, description, responses, ...
    docs: Json = field(default_factory=lambda: {"include_in_schema": False})


def post_routes(events: SlackEvents, handlers: IntakeHandlers) -> list[PostRoute]:
    """Slack's endpoint, IAK's callback and the ingest API."""
    return [
        PostRoute("/slack/events", events),
        PostRoute(
            "/iak/callback",
            handlers.callback,
            CALLBACK_DOCS,
        ),
        PostRoute(
            "/transactions",
            handlers.ingest,
            INGEST_DOCS,
        ),
    ]


def add_post_routes(app: FastAPI, routes: list[PostRoute]) -> None:
    """Each route as a FastAPI route that hands the request to its ASGI handler: for the
    app without FastPath in front, other methods' 405, and the OpenAPI page."""
    for route in routes:
        app.add_api_route(route.path, _delegating(route.handler), methods=["POST"], **route.docs)


def _delegating(handler: ASGIApp) -> Callable[[], Awaitable[Response]]:
    async def endpoint() -> Response:
        return _Delegate(handler)

    return endpoint


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
    routes = post_routes(events, handlers)
    add_post_routes(app, routes)
    add_health_route(app, database, health, metrics_token)
    # Without a token these routes do not exist (404): never open to anyone.
    if metrics_page is not None and metrics_token:
        add_metrics_route(app, metrics_page, metrics_token)
    if metrics_token:
        add_docs_routes(app, metrics_token)
    fast = FastPath(app, {route.path: route.handler for route in routes})
    return RequestLog(fast)
