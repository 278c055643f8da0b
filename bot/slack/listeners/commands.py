"""The `/iak` slash command and its subcommands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.iak.models import valid_ref_id
from bot.registry import Empty, Found, Matches, Unknown
from bot.services import Services
from bot.slack.blocks.cards import (
    CommandHelp,
    codes_list,
    help_message,
    remediation_card,
    search_results,
    unknown_code,
)
from bot.slack.blocks.status import checking_balance_message, checking_message
from bot.slack.blocks.text import Message, truncate
from bot.slack.listeners.checks import LiveChecks, not_configured_message

COMMAND = "/iak"
MAX_CACHED_ANSWERS = 1024


@dataclass(frozen=True)
class Invocation:
    """One `/iak <subcommand> <args>` call."""

    args: str
    user_id: str
    channel_id: str
    ack: AsyncAck
    respond: AsyncRespond


Handler = Callable[[Invocation], Awaitable[None]]


STATUS_HELP = CommandHelp(
    "/iak status order001",
    "what happened to a top-up, live from IAK, and what to do (give its ref_id)",
)
# Every subcommand, in the order `/iak help`, the manifest's usage hint and the README show them.
USAGE: tuple[CommandHelp, ...] = (
    CommandHelp(
        "/iak code 17",
        "what a response code means and what to do (also `code 6`, `code http 503`, "
        "`code deposit`)",
    ),
    CommandHelp("/iak codes", "every response code, grouped by status"),
    STATUS_HELP,
    CommandHelp("/iak balance", "the IAK deposit balance, live"),
    CommandHelp("/iak help", "this list"),
)


def subcommand_name(entry: CommandHelp) -> str:
    """`code` for `/iak code 17`."""
    return entry.usage.split()[1]


async def ack_ephemeral(ack: AsyncAck, message: Message) -> None:
    """Answer in the ack itself: only the caller sees it, and no round trip is needed."""
    await ack({"response_type": "ephemeral", "text": message["text"], "blocks": message["blocks"]})


class IakCommand:
    """Routes `/iak` text to its subcommand; unknown or empty text gets the usage."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.checks = LiveChecks(services)
        self._answers: dict[str, Message] = {}
        self.handlers: dict[str, Handler] = {
            "code": self.code,
            "codes": self.codes,
            "status": self.status,
            "balance": self.balance,
            "help": self.help,
        }

    def usage(self) -> list[CommandHelp]:
        """Every subcommand with an example."""
        return list(USAGE)

    async def handle(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        """Bolt listener for `/iak`."""
        text = " ".join(str(command.get("text", "")).split())
        name, _, args = text.partition(" ")
        handler = self.handlers.get(name.lower())
        if handler is None:
            note = f"I don't know “{truncate(name, 40)}”. " if name else None
            await ack_ephemeral(ack, help_message(self.usage(), note=note))
            return
        await handler(
            Invocation(
                args=args,
                user_id=str(command.get("user_id", "")),
                channel_id=str(command.get("channel_id", "")),
                ack=ack,
                respond=respond,
            )
        )

    async def code(self, call: Invocation) -> None:
        """`/iak code <code|words>`: the remediation card, search results, or closest codes."""
        await ack_ephemeral(call.ack, self._code_answer(call.args))

    def _code_answer(self, query: str) -> Message:
        # The registry never changes while the process runs, so the answer to a query never
        # does either: the common ones are built once.
        cached = self._answers.get(query)
        if cached is None:
            cached = self._build_code_answer(query)
            if len(self._answers) < MAX_CACHED_ANSWERS:
                self._answers[query] = cached
        return cached

    def _build_code_answer(self, query: str) -> Message:
        result = self.services.registry.lookup(query)
        match result:
            case Empty():
                message = help_message(self.usage(), note="Which code? For example /iak code 17.")
            case Found(code=code, note=note):
                message = remediation_card(code, note=note)
            case Matches():
                message = search_results(result)
            case Unknown():
                message = unknown_code(result)
        return message

    async def codes(self, call: Invocation) -> None:
        """`/iak codes`: the whole registry."""
        await ack_ephemeral(call.ack, codes_list(self.services.registry))

    async def status(self, call: Invocation) -> None:
        """`/iak status <ref_id>`: ack now, the card follows through response_url."""
        ref_id = call.args
        if not valid_ref_id(ref_id):
            note = (
                f"“{truncate(ref_id, 40)}” is not a ref_id: it is 1-100 printable characters "
                "without spaces."
                if ref_id
                else "Which transaction? Give its ref_id."
            )
            await ack_ephemeral(call.ack, help_message([STATUS_HELP], note=note))
            return
        iak = self.services.iak
        if iak is None:
            await ack_ephemeral(call.ack, not_configured_message(self.services.settings))
            return
        await ack_ephemeral(call.ack, checking_message(ref_id, iak.endpoint))
        self.services.background.spawn(
            self.checks.deliver_status(iak, ref_id, call.respond, replace_original=False),
            name="iak-status",
        )

    async def balance(self, call: Invocation) -> None:
        """`/iak balance`: ack now, the deposit follows through response_url."""
        iak = self.services.iak
        if iak is None:
            await ack_ephemeral(call.ack, not_configured_message(self.services.settings))
            return
        await ack_ephemeral(call.ack, checking_balance_message(iak.endpoint))
        self.services.background.spawn(
            self.checks.deliver_balance(iak, call.respond), name="iak-balance"
        )

    async def help(self, call: Invocation) -> None:
        """`/iak help`."""
        await ack_ephemeral(call.ack, help_message(self.usage()))


def register(app: AsyncApp, services: Services) -> IakCommand:
    """Wire `/iak` into the app; returns the router so later features can add subcommands."""
    iak = IakCommand(services)
    app.command(COMMAND)(iak.handle)
    return iak
