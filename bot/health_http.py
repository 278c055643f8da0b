"""`GET /healthz`, `GET /metrics` and the OpenAPI pages: the routes for the platform and for
whoever holds `METRICS_TOKEN`."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse

from bot.asgi import ErrorAnswer
from bot.health import Health, HealthReport
from bot.metrics import CONTENT_TYPE, MetricsPage
from bot.shapes import Json
from bot.store.database import Database

log = logging.getLogger(__name__)


HEALTH_TIMEOUT = 3.0


HEALTH_MAX_AGE = 2.0


HealthDetails = Callable[[], HealthReport]


class HealthCache:
    """The health answer, computed at most once per HEALTH_MAX_AGE however many checks
    arrive: a flood of health checks cannot starve the database pool."""

    def __init__(self, database: Database, details: HealthDetails | None) -> None:
        self.database = database
        self.details = details
        self._answer: tuple[float, int, Json] | None = None
        self._computing: asyncio.Task[tuple[int, Json]] | None = None

    async def answer(self) -> tuple[int, Json]:
        """(HTTP status, body) no older than HEALTH_MAX_AGE."""
        cached = self._answer
        if cached is not None and time.monotonic() - cached[0] <= HEALTH_MAX_AGE:
            return cached[1], cached[2]
        if self._computing is None or self._computing.done():
            self._computing = asyncio.ensure_future(self._compute())
        # shielded: one caller going away must not cancel the others' answer
        return await asyncio.shield(self._computing)

    async def _compute(self) -> tuple[int, Json]:
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
            body = Health(status="ok", database="ok").model_dump(exclude_none=True)
            if extra is not None:
                body.update(extra.model_dump())
        self._answer = (time.monotonic(), status, body)
        return status, body

    def _check(self) -> HealthReport | None:
        self.database.transactions.ping()
        return self.details() if self.details is not None else None


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
