"""The "Check at IAK" message shortcut: the ref_ids a message names, checked live at IAK.

Someone pastes "cek ORD-77 sama ORD-78" into the ops channel; anyone allowed to see
transactions picks "Check at IAK" on that message and gets a status card for each
(ephemeral: only they see them), instead of retyping each as `/iak status`.

Slack shows nothing of a shortcut's ack, and a message shortcut's `response_url` takes
five posts: one card per ref_id (at most five, `bot.ref_ids.MAX_CHECKED`) uses them all,
so there is no "Checking…" message first. Each card is its own message so that its
Recheck button replaces that card alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from re import Pattern

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.checks import Checked, TransactionChecks
from bot.iak.client import IakClient
from bot.outcomes import Line
from bot.ref_ids import Chosen, choose, words
from bot.services import Services
from bot.shapes import Json, JsonView
from bot.slack.access import AccessGuard
from bot.slack.blocks.message_checks import nothing_to_check, with_more_named
from bot.slack.blocks.status import check_card
from bot.slack.blocks.text import Message, note, recheck_cooldown
from bot.slack.interactions import Click, answer_later, post_later
from bot.slack.listeners.checks import not_configured_message

log = logging.getLogger(__name__)

CHECK_AT_IAK = "check_at_iak"
# What the manifest declares (Slack: a name of 24 characters at most, a description of 150).
SHORTCUT_NAME = "Check at IAK"
SHORTCUT_DESCRIPTION = "Check the ref_ids in this message live at IAK (only you see the cards)"
# IAK's slots (CallLimits.max_in_flight) are shared by everyone and the monitor: one
# person's shortcut takes at most this many at once.
CHECKS_AT_ONCE = 2


class MessageChecks:
    """Finds the ref_ids of the message the shortcut was used on and posts their cards."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def check(self, ack: AsyncAck, body: Json, respond: AsyncRespond) -> None:
        """Bolt listener for the shortcut (after the access guard): ack at once; the store,
        IAK and the cards come after."""
        await ack()
        answer_later(
            self.services.background,
            respond,
            self._answer(_message_text(body), Click.of(body).user_id, respond),
            what="checks of a message",
            replace_original=False,
        )

    async def _answer(self, text: str, user_id: str, respond: AsyncRespond) -> None:
        services = self.services
        iak = services.iak
        if iak is None:
            await post_later(respond, not_configured_message(services.settings), what="settings")
            return
        candidates = words(text)
        chosen = choose(candidates, await self._stored(candidates))
        if not chosen.ref_ids:
            await post_later(respond, nothing_to_check(), what="nothing to check")
            return
        # One go of the shared cooldown, as one /iak status: the cards come together.
        wait = services.check_cooldown.wait_left(user_id)
        if wait is not None:
            await post_later(respond, note(recheck_cooldown(wait)), what="check cooldown")
            return
        await self._post_cards(iak, chosen, respond)

    async def _stored(self, candidates: tuple[str, ...]) -> Mapping[str, Line]:
        """Which candidates the store holds; none while it does not answer (the plausible
        words are still checked)."""
        transactions = self.services.database.transactions
        try:
            return await asyncio.to_thread(transactions.lines_of, candidates)
        except Exception:
            log.exception("could not look the message's words up in the store")
            return {}

    async def _post_cards(self, iak: IakClient, chosen: Chosen, respond: AsyncRespond) -> None:
        """Check them all (a few at a time), posting each card in order as soon as it and
        those before it are in."""
        services = self.services
        checks = TransactionChecks(iak, services.database, services.clock)
        slots = asyncio.Semaphore(CHECKS_AT_ONCE)

        async def check(ref_id: str, line: Line) -> Checked:
            async with slots:
                return await checks.check(ref_id, line)

        tasks = [
            services.background.spawn(check(ref_id, line), name="message-check")
            for ref_id, line in chosen.ref_ids
        ]
        for number, task in enumerate(tasks, start=1):
            checked = await task
            card: Message = check_card(checked, services.registry)
            if number == len(tasks) and chosen.named > len(tasks):
                card = with_more_named(card, checked=len(tasks), named=chosen.named)
            await post_later(respond, card, what=f"status card {checked.ref_id}")


def _message_text(body: JsonView) -> str:
    """The text of the message the shortcut was used on ("" when it has none)."""
    message = body.get("message")
    text = message.get("text") if isinstance(message, Mapping) else None
    return text if isinstance(text, str) else ""


def register(app: AsyncApp, services: Services) -> None:
    """Wire the shortcut: restricted like `/iak status` (the guard answers a refusal)."""
    guarded = [AccessGuard.from_services(services).check]
    shortcut: dict[str, str | Pattern[str]] = {
        "type": "message_action",
        "callback_id": CHECK_AT_IAK,
    }
    app.shortcut(shortcut, middleware=guarded)(MessageChecks(services).check)
