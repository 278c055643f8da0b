"""The one place listener errors end up."""

from __future__ import annotations

import json
import logging
import secrets

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from bot.logs import request_id
from bot.shapes import Json
from bot.slack.blocks.text import failure_note

log = logging.getLogger(__name__)


async def handle_error(error: Exception, body: Json) -> BoltResponse:
    """Log the failure with an id and tell the user, in their ephemeral reply, that it broke."""
    error_id = request_id.get() or secrets.token_hex(4)
    kind = body.get("type") or ("slash_command" if "command" in body else "unknown")
    log.error("listener failed (error id %s, %s)", error_id, kind, exc_info=error)
    message = {"response_type": "ephemeral", **failure_note(error_id)}
    return BoltResponse(
        status=200, body=json.dumps(message), headers={"content-type": "application/json"}
    )


def register(app: AsyncApp) -> None:
    """Install the error handler."""
    app.error(handle_error)
