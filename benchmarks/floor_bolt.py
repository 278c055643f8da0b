"""The framework's floor: a bare Bolt AsyncApp behind FastAPI that only acks `/iak`.

Configured like the bot (same authorize shortcut, process_before_response, uvicorn
settings) so the ratio measures what the bot adds, not configuration differences.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient


def create_app() -> FastAPI:
    token = os.environ["SLACK_BOT_TOKEN"]

    async def authorize(**_: Any) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=None, team_id=None, bot_token=token)

    bolt = AsyncApp(
        client=AsyncWebClient(),
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        authorize=authorize,
        process_before_response=True,
    )

    async def ack_only(ack: AsyncAck) -> None:
        await ack()

    bolt.command("/iak")(ack_only)
    handler = AsyncSlackRequestHandler(bolt)
    app = FastAPI()

    @app.post("/slack/events")
    async def events(request: Request) -> Response:
        return await handler.handle(request)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
