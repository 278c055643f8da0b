"""Build and send requests the way Slack does: form bodies, JSON payloads, v0 signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx


def sign(secret: str, timestamp: str, body: str) -> str:
    """Slack's `X-Slack-Signature` for a body sent at `timestamp`."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


# The token Slack gives one execution of a workflow step, for ending it.
STEP_TOKEN = "xwfp-step-token"


class SlackSender:
    """Sends signed slash commands and interactions to the bot at `base_url`."""

    def __init__(self, base_url: str, signing_secret: str, response_base: str) -> None:
        self.url = base_url.rstrip("/") + "/slack/events"
        self.secret = signing_secret
        self.response_base = response_base.rstrip("/")
        self.http = httpx.Client(timeout=10)

    def close(self) -> None:
        self.http.close()

    def post(
        self,
        body: str,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> httpx.Response:
        """POST a body with Slack's headers; a valid signature unless one is given."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature or sign(self.secret, stamp, body),
        }
        return self.http.post(self.url, content=body.encode(), headers=headers)

    def command_body(
        self,
        text: str,
        *,
        user_id: str = "U0OPS0001",
        channel_id: str = "C0OPS0001",
        response_key: str = "r1",
        team_id: str = "T0TEAM",
    ) -> str:
        """The form body of `/iak <text>` as Slack sends it (from another workspace, as in a
        Slack Connect channel, with `team_id`)."""
        return urlencode(
            {
                "token": "deprecated-verification-token",
                "team_id": team_id,
                "team_domain": "acme",
                "channel_id": channel_id,
                "channel_name": "ops",
                "user_id": user_id,
                "user_name": "ops.person",
                "command": "/iak",
                "text": text,
                "api_app_id": "A0IAKBOT",
                "is_enterprise_install": "false",
                "response_url": f"{self.response_base}/{response_key}",
                "trigger_id": "1234.5678.abcdef",
            }
        )

    def command(self, text: str, **kwargs: Any) -> httpx.Response:
        """Send `/iak <text>`, signed."""
        return self.post(self.command_body(text, **kwargs))

    def action(
        self,
        action_id: str,
        value: str,
        *,
        user_id: str = "U0OPS0001",
        channel_id: str = "C0OPS0001",
        response_key: str = "a1",
        block_id: str = "b1",
        message: dict[str, Any] | None = None,
        container: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        team_id: str = "T0TEAM",
    ) -> httpx.Response:
        """Send a `block_actions` payload shaped like Slack's documented example (clicked by
        someone of another workspace, as in a Slack Connect channel, with `team_id`)."""
        action: dict[str, Any] = {
            "type": "button",
            "action_id": action_id,
            "block_id": block_id,
            "text": {"type": "plain_text", "text": "Button", "emoji": True},
            "value": value,
            "action_ts": f"{time.time():.6f}",
        }
        if extra:
            action.update(extra)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {
                "id": user_id,
                "username": "ops.person",
                "name": "ops.person",
                "team_id": team_id,
            },
            "api_app_id": "A0IAKBOT",
            "token": "deprecated-verification-token",
            "container": container
            or {
                "type": "message",
                "message_ts": "1700000000.000100",
                "channel_id": channel_id,
                "is_ephemeral": True,
            },
            "trigger_id": "1234.5678.abcdef",
            "team": {"id": team_id, "domain": "acme"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": "ops"},
            "message": message or {"type": "message", "ts": "1700000000.000100", "text": "card"},
            "state": {"values": {}},
            "response_url": f"{self.response_base}/{response_key}",
            "actions": [action],
        }
        return self.post(urlencode({"payload": json.dumps(payload)}))

    def message_shortcut(
        self,
        text: str,
        *,
        callback_id: str = "check_at_iak",
        user_id: str = "U0OPS0001",
        channel_id: str = "C0OPS0001",
        response_key: str = "m1",
        team_id: str = "T0TEAM",
    ) -> httpx.Response:
        """Send a `message_action` payload (a message shortcut used on a message saying
        `text`), shaped like Slack's documented example."""
        payload: dict[str, Any] = {
            "type": "message_action",
            "token": "deprecated-verification-token",
            "action_ts": f"{time.time():.6f}",
            "team": {"id": team_id, "domain": "acme"},
            "user": {"id": user_id, "name": "ops.person", "team_id": team_id},
            "channel": {"id": channel_id, "name": "ops"},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": "1234.5678.abcdef",
            "response_url": f"{self.response_base}/{response_key}",
            "message_ts": "1700000000.000200",
            "message": {
                "type": "message",
                "user": "U0AGENT01",
                "ts": "1700000000.000200",
                "text": text,
                "team": team_id,
            },
        }
        return self.post(urlencode({"payload": json.dumps(payload)}))

    def function_executed(
        self,
        inputs: dict[str, Any],
        *,
        callback_id: str = "check_iak_transaction",
        execution_id: str = "Fx0EXEC0001",
        bot_access_token: str = STEP_TOKEN,
        team_id: str = "T0TEAM",
    ) -> httpx.Response:
        """Send the Events API envelope of a `function_executed` event: a workflow ran the
        app's step `callback_id` with `inputs` (shaped like Slack's documented example)."""
        event = {
            "type": "function_executed",
            "function": {
                "id": "Fn0STEP0001",
                "callback_id": callback_id,
                "title": "Check a transaction at IAK",
                "type": "app",
                "app_id": "A0IAKBOT",
                "date_created": 1700000000,
                "date_updated": 1700000000,
                "date_deleted": 0,
            },
            "inputs": inputs,
            "function_execution_id": execution_id,
            "workflow_execution_id": "Wx0RUN0001",
            "event_ts": f"{time.time():.6f}",
            "bot_access_token": bot_access_token,
        }
        envelope = {
            "token": "deprecated-verification-token",
            "team_id": team_id,
            "api_app_id": "A0IAKBOT",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{execution_id}",
            "event_time": int(time.time()),
        }
        return self.post(json.dumps(envelope), content_type="application/json")
