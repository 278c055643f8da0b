"""Bolt listeners, wired explicitly by `register`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from bot.slack.listeners import (
    actions,
    commands,
    errors,
    home,
    incidents,
    message_checks,
    workflow_steps,
)

if TYPE_CHECKING:
    from bot.slack.alerts.alerting import Alerting


def register(app: AsyncApp, services: Services, alerting: Alerting | None = None) -> None:
    """Attach every listener of the bot to the Bolt app."""
    commands.register(app, services)
    actions.register(app, services)
    incidents.register(app, services, alerting)
    home.register(app, services, alerting)
    message_checks.register(app, services)
    workflow_steps.register(app, services)
    errors.register(app)
