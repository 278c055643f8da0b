"""Buttons on the bot's cards."""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.i18n import current, language
from bot.iak.models import valid_ref_id
from bot.services import Services
from bot.shapes import Json
from bot.slack.access import AccessGuard
from bot.slack.blocks.cards import SHARE_ACTION, SHOW_CARD_ACTION, remediation_card
from bot.slack.blocks.finds import CHECK_FOUND_ACTION
from bot.slack.blocks.iak_answers import CHECK_PRODUCT_ACTION, RECHECK_ACTION, RecheckTarget
from bot.slack.blocks.products import SHOW_PRODUCT_ACTION
from bot.slack.blocks.reports import PENDING_NEXT_ACTION, PENDING_PREVIOUS_ACTION
from bot.slack.blocks.serials import SHOW_SERIAL_ACTION
from bot.slack.blocks.text import note, recheck_cooldown
from bot.slack.interactions import Click, answer_later, post_soon
from bot.slack.listeners.checks import LiveChecks, not_configured_message
from bot.slack.listeners.products import ProductAnswers
from bot.slack.listeners.reports import TransactionReports
from bot.slack.listeners.serials import SerialReveal


class CardActions:
    """Share a card with the channel; open a search result's card."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def share(self, ack: AsyncAck, body: Json, respond: AsyncRespond) -> None:
        """Post the card `in_channel` for the team; the caller's ephemeral copy stays."""
        await ack()
        sharer = str(body.get("user", {}).get("id", ""))
        self._answer(body, respond, shared_by=sharer, response_type="in_channel", replace=False)

    async def show(self, ack: AsyncAck, body: Json, respond: AsyncRespond) -> None:
        """Replace a search-results list with the chosen code's card."""
        await ack()
        self._answer(body, respond, shared_by=None, response_type="ephemeral", replace=True)

    def _answer(
        self,
        body: Json,
        respond: AsyncRespond,
        *,
        shared_by: str | None,
        response_type: str,
        replace: bool,
    ) -> None:
        """The clicked code's card, posted to response_url after the ack."""
        registry = self.services.registry
        # The button's value is the row's key: "17" (prepaid, as on cards posted before
        # the postpaid table existed) or "postpaid 11".
        code = registry.get(Click.of(body).value)
        if code is None:
            return
        # A card shared in the channel is for the whole team: in BOT_LANGUAGE, like alerts.
        chosen = self.services.settings.bot_language if response_type == "in_channel" else current()
        with language(chosen):
            message = remediation_card(code, homonym=registry.homonym(code), shared_by=shared_by)
        post_soon(
            self.services.background,
            respond,
            message,
            what=f"card {code.code}",
            replace_original=replace,
            in_channel=response_type == "in_channel",
        )


class StatusActions:
    """The Recheck button on a status card, and the Check at IAK button of `/iak find`."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.checks = LiveChecks(services)
        # shared with /iak status and /iak balance
        self.cooldown = services.check_cooldown

    async def recheck(self, ack: AsyncAck, body: Json, respond: AsyncRespond) -> None:
        """Ack the click, ask IAK again (prepaid or postpaid, as the button says), and replace
        the card with the new answer."""
        await ack()
        self._check(Click.of(body), respond, replace_original=True)

    async def check_found(self, ack: AsyncAck, body: Json, respond: AsyncRespond) -> None:
        """A transaction of a find's list, checked at IAK: its status card is posted under
        the list, which stays for the next one."""
        await ack()
        self._check(Click.of(body), respond, replace_original=False)

    def _check(self, click: Click, respond: AsyncRespond, *, replace_original: bool) -> None:
        target = RecheckTarget.parse(click.value)
        ref_id = target.ref_id
        if not valid_ref_id(ref_id):
            return
        wait = self.cooldown.wait_left(click.user_id)
        if wait is not None:
            message = note(recheck_cooldown(wait))
            post_soon(self.services.background, respond, message, what="recheck cooldown")
            return
        iak = self.services.iak
        if iak is None:
            message = not_configured_message(self.services.settings)
            post_soon(self.services.background, respond, message, what="IAK settings")
            return
        work = self.checks.deliver_status(
            iak, ref_id, target.line, respond, replace_original=replace_original
        )
        answer_later(
            self.services.background,
            respond,
            work,
            what=f"rechecked status card of {ref_id}",
        )


def register(app: AsyncApp, services: Services) -> None:
    """Wire the card buttons."""
    cards = CardActions(services)
    # Remediation cards hold no customer data: open to everyone.
    app.action(SHARE_ACTION)(cards.share)
    app.action(re.compile(rf"^{SHOW_CARD_ACTION}_"))(cards.show)
    # Price-list entries hold no customer data either.
    products = ProductAnswers(services)
    app.action(re.compile(rf"^{SHOW_PRODUCT_ACTION}_\d+$"))(products.open)
    app.action(CHECK_PRODUCT_ACTION)(products.open)
    # These reveal transaction data: ALLOWED_USERS / ALLOWED_CHANNELS first.
    guarded = [AccessGuard.from_services(services).check]
    status = StatusActions(services)
    app.action(RECHECK_ACTION, middleware=guarded)(status.recheck)
    app.action(CHECK_FOUND_ACTION, middleware=guarded)(status.check_found)
    # The serial number whole: for admins only, once the guard let them through.
    app.action(SHOW_SERIAL_ACTION, middleware=guarded)(SerialReveal(services).show)
    pages = TransactionReports(services).page
    app.action(PENDING_NEXT_ACTION, middleware=guarded)(pages)
    app.action(PENDING_PREVIOUS_ACTION, middleware=guarded)(pages)
    # Link buttons open a URL in the browser, but Slack still sends their click.
    app.action(re.compile(r"^link_\d+$"))(_ack_only)


async def _ack_only(ack: AsyncAck) -> None:
    await ack()
