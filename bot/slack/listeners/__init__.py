"""Bolt listeners, wired explicitly by `register`."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from bot.slack.listeners import actions, commands, errors


def register(app: AsyncApp, services: Services) -> None:
    """Attach every listener of the bot to the Bolt app."""
    commands.register(app, services)
    actions.register(app, services)
    errors.register(app)
