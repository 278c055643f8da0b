"""The Show SN button on a status card: a sale's serial number whole, to whoever pressed it.

Behind the access guard like Recheck (ALLOWED_USERS, ALLOWED_CHANNELS, the bot's own
workspace), and then for ADMIN_USERS only (ALLOWED_USERS without it; everyone when both are
empty). The serial is read from the store, never from the button: a button's value only
names the transaction, so a forged one reveals nothing the store does not hold for it. The
answer is an ephemeral message of its own (the masked card stays as it was), and the log
records who revealed which ref_id, never the serial.
"""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.async_app import AsyncAck, AsyncRespond

from bot.iak.models import valid_ref_id
from bot.outcomes import Outcome
from bot.services import Services
from bot.shapes import Json
from bot.slack.access import AccessPolicy
from bot.slack.blocks.iak_answers import RecheckTarget
from bot.slack.blocks.serials import serial_missing, serial_refused, serial_shown, serial_unknown
from bot.slack.interactions import Click, answer_later, post_later

log = logging.getLogger(__name__)


class SerialReveal:
    """What Show SN does."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.policy = AccessPolicy.from_settings(services.settings)

    async def show(self, ack: AsyncAck, body: Json, respond: AsyncRespond) -> None:
        """Ack the click; the serial (or why not) follows to the clicker alone."""
        await ack()
        answer_later(
            self.services.background,
            respond,
            self._show(Click.of(body), respond),
            what="serial number",
            replace_original=False,
        )

    async def _show(self, click: Click, respond: AsyncRespond) -> None:
        target = RecheckTarget.parse(click.value)
        ref_id = target.ref_id
        if not self.policy.allows_revealing_serials(click.user_id):
            log.info(
                "refused the serial number of %s to user %s (ADMIN_USERS)",
                ref_id if valid_ref_id(ref_id) else "(not a ref_id)",
                click.user_id or "?",
            )
            await post_later(respond, serial_refused(), what="serial refusal")
            return
        state = None
        if valid_ref_id(ref_id):
            transactions = self.services.database.transactions
            state = await asyncio.to_thread(transactions.get, ref_id)
        if state is None or state.line is not target.line:
            await post_later(respond, serial_unknown(ref_id), what="unknown ref_id for a serial")
            return
        # `serial` is set only for a prepaid success with a real serial number (not IAK's "-").
        if state.outcome is not Outcome.SUCCESS or state.serial is None or not state.sn:
            await post_later(respond, serial_missing(ref_id), what="missing serial")
            return
        # Logged before it is sent: an answer Slack took but whose reply was lost still counts.
        log.info("user %s revealed the serial number of %s", click.user_id, ref_id)
        shown = serial_shown(ref_id, state.sn, state.product_code)
        await post_later(respond, shown, what=f"serial number of {ref_id}")
