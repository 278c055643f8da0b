"""HTTP routes: Slack's endpoint and the health check."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

log = logging.getLogger(__name__)

# Slack's own payloads stay far below this (a block_actions body carries the whole
# message, at most a few tens of KB); anything larger is not from Slack.
MAX_SLACK_BODY = 512 * 1024


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it grows past `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            return None
        # uvicorn never delivers more than Content-Length, so one read is safe.
        return await request.body()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


# Routes are added to the app itself, not through include_router: FastAPI matches included
# routers through an extra layer on every request, which costs the hot Slack path ~10%.


def add_slack_routes(app: FastAPI, bolt: AsyncApp) -> None:
    """`POST /slack/events`: slash commands, interactivity and events, verified by Bolt."""

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        body = await read_body(request, MAX_SLACK_BODY)
        if body is None:
            return JSONResponse({"error": "request body too large"}, status_code=413)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return JSONResponse({"error": "request body is not UTF-8"}, status_code=400)
        bolt_request = AsyncBoltRequest(
            body=text,
            query=request.scope.get("query_string", b"").decode("latin-1"),
            headers=request.headers,  # type: ignore[arg-type]
        )
        answer = await bolt.async_dispatch(bolt_request)
        return Response(
            status_code=answer.status,
            content=answer.body,
            headers=answer.first_headers_without_set_cookie(),
        )


def add_health_route(app: FastAPI) -> None:
    """`GET /healthz` for the platform's router and for people."""

    @app.get("/healthz", summary="Health check", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}


def create_fastapi(bolt: AsyncApp) -> FastAPI:
    """The FastAPI application with every route mounted."""
    app = FastAPI(
        title="iak-bot",
        summary="Slack chat-ops bot for IAK prepaid top-ups.",
        version="0.1.0",
    )
    add_slack_routes(app, bolt)
    add_health_route(app)
    return app
