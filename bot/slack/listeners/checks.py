"""Live IAK checks answered after the ack: run the check, render the card, post it to response_url.

IAK may take seconds (or time out at 10 s), far past Slack's 3-second ack, so listeners ack
first and hand these coroutines to BackgroundTasks.
"""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncRespond

from bot.checks import TransactionChecks
from bot.config import ConfigError, Settings
from bot.i18n import _
from bot.iak.client import IakClient
from bot.outcomes import Line
from bot.services import Services
from bot.slack.blocks.balance import balance_card
from bot.slack.blocks.status import check_card, iak_not_configured
from bot.slack.blocks.text import Message
from bot.slack.interactions import post_later

log = logging.getLogger(__name__)


def not_configured_message(settings: Settings) -> Message:
    """Which IAK settings to set, and what they hold, before the bot can ask IAK."""
    try:
        settings.require(
            "iak_username", "iak_api_key", why="to ask IAK (/iak status, balance, product)"
        )
    except ConfigError as exc:
        return iak_not_configured(str(exc))
    return iak_not_configured(_("Set IAK_USERNAME and IAK_API_KEY, then restart the bot."))


class LiveChecks:
    """Delivers the status and balance cards once IAK has answered."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def deliver_status(
        self,
        iak: IakClient,
        ref_id: str,
        line: Line,
        respond: AsyncRespond,
        *,
        replace_original: bool,
    ) -> None:
        """Check `ref_id` at IAK on its line and post its card; a Recheck replaces the card
        it was on."""
        services = self.services
        checks = TransactionChecks(iak, services.database, services.clock)
        checked = await checks.check(ref_id, line)
        message = check_card(checked, services.registry)
        await post_later(
            respond, message, replace_original=replace_original, what=f"status card {ref_id}"
        )

    async def deliver_balance(self, iak: IakClient, respond: AsyncRespond) -> None:
        """Ask IAK for the deposit and post the balance card."""
        check = await iak.check_balance()
        message = balance_card(
            check,
            self.services.registry,
            low_threshold=self.services.settings.low_balance_threshold,
        )
        await post_later(respond, message, what="balance card")
