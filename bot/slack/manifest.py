"""The Slack app manifest, built from the bot's own command list so the two never drift."""

from __future__ import annotations

import yaml

from bot.shapes import Json
from bot.slack import workflow_step
from bot.slack.listeners.commands import COMMAND, USAGE, subcommand_name
from bot.slack.listeners.message_checks import (
    CHECK_AT_IAK,
    SHORTCUT_DESCRIPTION,
    SHORTCUT_NAME,
)

PLACEHOLDER_URL = "https://your-app.example.com"
EVENTS_PATH = "/slack/events"


def usage_hint() -> str:
    """`code 17 | codes | help`: what Slack shows while typing `/iak`."""
    return " | ".join(" ".join(entry.usage.split()[1:]) for entry in USAGE)


def build_manifest(base_url: str = PLACEHOLDER_URL, *, socket_mode: bool = False) -> Json:
    """The manifest as a dict; every request URL points at `base_url` + /slack/events."""
    events_url = base_url.rstrip("/") + EVENTS_PATH
    command: Json = {
        "command": COMMAND,
        "description": "IAK response codes and transactions",
        "usage_hint": usage_hint(),
        "should_escape": False,
    }
    interactivity: Json = {"is_enabled": True}
    # The Home tab's dashboard is published when someone opens it; function_executed runs
    # the workflow step.
    events: Json = {"bot_events": ["app_home_opened", "function_executed"]}
    if not socket_mode:
        command["url"] = events_url
        interactivity["request_url"] = events_url
        events = {"request_url": events_url, **events}
    assert all(subcommand_name(entry) for entry in USAGE)
    return {
        "display_information": {
            "name": "IAK Bot",
            "description": "IAK top-up response codes, live transaction status and threaded "
            "alerts for the ops team.",
            "background_color": "#1f3a5f",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": False,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": "iak-bot", "always_online": True},
            "slash_commands": [command],
            "shortcuts": [
                {
                    "name": SHORTCUT_NAME,
                    "type": "message",
                    "callback_id": CHECK_AT_IAK,
                    "description": SHORTCUT_DESCRIPTION,
                }
            ],
        },
        # files:write: the digest's chart; users:read: users.info tells each person's Slack
        # locale, the language of their answers.
        "oauth_config": {
            "scopes": {"bot": ["commands", "chat:write", "files:write", "users:read"]}
        },
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            # Slack lists an app's workflow steps in Workflow Builder only when it is
            # org-ready, and runs them on the app's own server ("remote").
            "org_deploy_enabled": True,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
            "function_runtime": "remote",
        },
        "functions": {workflow_step.CALLBACK_ID: workflow_step.definition()},
    }


def manifest_yaml(base_url: str = PLACEHOLDER_URL, *, socket_mode: bool = False) -> str:
    """The manifest as YAML, ready to paste into api.slack.com/apps → Create from manifest."""
    header = (
        "# Slack app manifest for iak-bot. Regenerate with: iak-bot manifest --url https://your-host\n"
        "# (or --socket-mode for local use without a public URL). Paste it at\n"
        "# https://api.slack.com/apps -> Create New App -> From an app manifest.\n"
    )
    body = yaml.safe_dump(
        build_manifest(base_url, socket_mode=socket_mode), sort_keys=False, allow_unicode=True
    )
    return header + body
