"""The one place listener errors end up."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)


async def handle_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
    """Log the failure with an id and tell the user, in their ephemeral reply, that it broke."""
    error_id = secrets.token_hex(4)
    kind = body.get("type") or ("slash_command" if "command" in body else "unknown")
    log.error("listener failed (error id %s, %s)", error_id, kind, exc_info=error)
    message = {
        "response_type": "ephemeral",
        "text": f":warning: Sorry, that failed on our side (error id {error_id}). "
        "It has been logged; please try again in a moment.",
    }
    return BoltResponse(
        status=200, body=json.dumps(message), headers={"content-type": "application/json"}
    )


def register(app: AsyncApp) -> None:
    """Install the error handler."""
    app.error(handle_error)
