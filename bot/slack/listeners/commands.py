"""The `/iak` slash command and its subcommands."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.controls import without_controls
from bot.i18n import N_, _, current
from bot.iak.models import valid_ref_id
from bot.price_lists import product_query
from bot.registry import Empty, Found, Line, Matches, Unknown, line_named
from bot.searches import search_too_long, search_too_long_note
from bot.services import Services
from bot.shapes import Json
from bot.slack.access import AccessGuard, Requester
from bot.slack.blocks.access import access_refused
from bot.slack.blocks.balance import checking_balance_message
from bot.slack.blocks.cards import (
    CommandHelp,
    codes_list,
    help_message,
    remediation_card,
    search_results,
    unknown_code,
)
from bot.slack.blocks.reports import reading_message
from bot.slack.blocks.status import checking_message
from bot.slack.blocks.text import Message, note, recheck_cooldown, search_cooldown, truncate
from bot.slack.interactions import ack_ephemeral, answer_later, post_later
from bot.slack.listeners.checks import LiveChecks, not_configured_message
from bot.slack.listeners.finds import FIND_WHAT, TransactionFinds
from bot.slack.listeners.products import ProductAnswers
from bot.slack.listeners.reports import (
    HANDOVER_WHAT,
    PENDING_WHAT,
    STATS_WHAT,
    TransactionReports,
    parse_stats_window,
)

COMMAND = "/iak"
MAX_CACHED_ANSWERS = 1024
# Subcommands that show transaction data: ALLOWED_USERS / ALLOWED_CHANNELS apply to them.
RESTRICTED = frozenset({"status", "pending", "stats", "balance", "find", "handover"})
# A store read that answers within this goes back in the ack itself (one message, no
# round trip); a slower one is acked with "Reading…" and posted via response_url, well
# inside Slack's 3-second deadline either way.
ANSWER_IN_ACK_WITHIN = 1.5


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
    N_("what happened to a top-up, live from IAK, and what to do (give its ref_id)"),
)
POSTPAID_STATUS_HELP = CommandHelp(
    "/iak status pp bill001",
    N_(
        "the same for a postpaid bill payment, from IAK's postpaid API (also "
        "`status postpaid bill001`)"
    ),
)
PRODUCT_HELP = CommandHelp(
    "/iak product xld25000",
    N_(
        "a product of IAK's price lists: price, nominal, operator, active or not (or words: "
        "`product telkomsel 25`; `product pp bpjs` for postpaid)"
    ),
)
FIND_HELP = CommandHelp(
    "/iak find 0812-3450-0001",
    N_(
        "the stored transactions of a customer number (any spelling), a serial number (or "
        "its last 8+ digits), a tr_id or a ref_id, newest first"
    ),
)
STATS_HELP = CommandHelp(
    "/iak stats 24h",
    N_("outcomes and the top failure codes over the last `1h`, `24h` (the default) or `7d`"),
)
# Every subcommand, in the order `/iak help`, the manifest's usage hint and the README show them.
USAGE: tuple[CommandHelp, ...] = (
    CommandHelp(
        "/iak code 17",
        N_(
            "what a response code means and what to do (also `code 6`, `code http 503`, "
            "`code deposit`)"
        ),
    ),
    CommandHelp(
        "/iak code pp 11",
        N_(
            "the same from IAK's postpaid (bill payment) table, where a number can mean "
            "something else (also `code postpaid 11`)"
        ),
    ),
    CommandHelp(
        "/iak codes",
        N_("every response code, grouped by status (`codes postpaid` for the postpaid table)"),
    ),
    STATUS_HELP,
    POSTPAID_STATUS_HELP,
    FIND_HELP,
    CommandHelp("/iak pending", N_("transactions still pending, oldest first, with their ages")),
    STATS_HELP,
    CommandHelp("/iak balance", N_("the IAK deposit balance, live")),
    PRODUCT_HELP,
    CommandHelp(
        "/iak handover",
        N_(
            "the shift handover: open incidents and who acknowledged them, mutes, old "
            "pending transactions, the last 8 h's top failures"
        ),
    ),
    CommandHelp("/iak help", N_("this list")),
)


def subcommand_name(entry: CommandHelp) -> str:
    """`code` for `/iak code 17`."""
    return entry.usage.split()[1]


class IakCommand:
    """Routes `/iak` text to its subcommand; unknown or empty text gets the usage."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.checks = LiveChecks(services)
        self.reports = TransactionReports(services)
        self.products = ProductAnswers(services)
        self.finds = TransactionFinds(services)
        self.guard = AccessGuard.from_services(services)
        self._answers: dict[tuple[str, str], Message] = {}
        self.handlers: dict[str, Handler] = {
            "code": self.code,
            "codes": self.codes,
            "status": self.status,
            "find": self.find,
            "pending": self.pending,
            "stats": self.stats,
            "balance": self.balance,
            "product": self.product,
            "handover": self.handover,
            "help": self.help,
        }

    def usage(self) -> list[CommandHelp]:
        """Every subcommand with an example."""
        return list(USAGE)

    async def handle(self, ack: AsyncAck, command: Json, respond: AsyncRespond) -> None:
        """Bolt listener for `/iak`."""
        started = time.perf_counter()
        text = " ".join(str(command.get("text", "")).split())
        name, __, args = text.partition(" ")
        try:
            await self._dispatch(ack, respond, command, name, args)
        finally:
            # Anything else a person typed counts as `help`: they got the usage, and the
            # label's values stay the subcommands'.
            label = name.lower() if name.lower() in self.handlers else "help"
            self.services.metrics.slash_command(label, time.perf_counter() - started)

    async def _dispatch(
        self,
        ack: AsyncAck,
        respond: AsyncRespond,
        command: Json,
        name: str,
        args: str,
    ) -> None:
        handler = self.handlers.get(name.lower())
        if handler is None:
            note = _("I don't know “{name}”.").format(name=truncate(name, 40)) if name else None
            await ack_ephemeral(ack, help_message(self.usage(), note=note))
            return
        call = Invocation(
            args=args,
            user_id=str(command.get("user_id", "")),
            channel_id=str(command.get("channel_id", "")),
            ack=ack,
            respond=respond,
        )
        # Checked before the subcommand even reads its arguments: a refused request
        # reaches neither IAK nor the database.
        if name.lower() in RESTRICTED and not await self.guard.admits(
            Requester.of(command), what=f"/iak {name.lower()}"
        ):
            await ack_ephemeral(ack, access_refused())
            return
        await handler(call)

    async def code(self, call: Invocation) -> None:
        """`/iak code <code|words>`: the remediation card, search results, or closest codes."""
        if search_too_long(call.args):
            await ack_ephemeral(call.ack, help_message(self.usage(), note=search_too_long_note()))
            return
        await ack_ephemeral(call.ack, self._code_answer(call.args))

    def _code_answer(self, query: str) -> Message:
        # The registry never changes while the process runs, so the answer to a query in a
        # language never does either: the common ones are built once.
        key = (current(), query)
        cached = self._answers.get(key)
        if cached is None:
            cached = self._build_code_answer(query)
            if len(self._answers) < MAX_CACHED_ANSWERS:
                self._answers[key] = cached
        return cached

    def _build_code_answer(self, query: str) -> Message:
        result = self.services.registry.lookup(query)
        match result:
            case Empty(line=Line.POSTPAID):
                message = help_message(
                    self.usage(), note=_("Which postpaid code? For example /iak code pp 11.")
                )
            case Empty():
                message = help_message(
                    self.usage(), note=_("Which code? For example /iak code 17.")
                )
            case Found(code=code, note=note, homonym=homonym):
                message = remediation_card(code, note=note, homonym=homonym)
            case Matches():
                message = search_results(result)
            case Unknown():
                message = unknown_code(result)
        return message

    async def codes(self, call: Invocation) -> None:
        """`/iak codes [postpaid]`: one line's whole table (prepaid unless `postpaid` or `pp`)."""
        line = line_named(call.args) if call.args else Line.PREPAID
        if line is None:
            note = _("“{name}” is not one of IAK's tables: use prepaid or postpaid.").format(
                name=truncate(call.args, 40)
            )
            await ack_ephemeral(call.ack, help_message(self.usage(), note=note))
            return
        await ack_ephemeral(call.ack, codes_list(self.services.registry, line))

    async def status(self, call: Invocation) -> None:
        """`/iak status [pp] <ref_id>`: ack now, the card follows through response_url."""
        line, ref_id = _status_args(call.args)
        if not valid_ref_id(ref_id):
            if ref_id:
                note = _(
                    "“{ref_id}” is not a ref_id: it is 1-100 printable characters without spaces."
                ).format(ref_id=truncate(ref_id, 40))
            elif line is Line.POSTPAID:
                note = _("Which postpaid bill? Give its ref_id.")
            else:
                note = _("Which transaction? Give its ref_id.")
            await ack_ephemeral(
                call.ack, help_message([STATUS_HELP, POSTPAID_STATUS_HELP], note=note)
            )
            return
        iak = self.services.iak
        if iak is None:
            await ack_ephemeral(call.ack, not_configured_message(self.services.settings))
            return
        if await self._cooling_down(call):
            return
        await ack_ephemeral(call.ack, checking_message(ref_id, iak.endpoint_of(line)))
        answer_later(
            self.services.background,
            call.respond,
            self.checks.deliver_status(iak, ref_id, line, call.respond, replace_original=False),
            what=f"status card of {ref_id}",
        )

    async def balance(self, call: Invocation) -> None:
        """`/iak balance`: ack now, the deposit follows through response_url."""
        iak = self.services.iak
        if iak is None:
            await ack_ephemeral(call.ack, not_configured_message(self.services.settings))
            return
        if await self._cooling_down(call):
            return
        await ack_ephemeral(call.ack, checking_balance_message(iak.endpoint))
        answer_later(
            self.services.background,
            call.respond,
            self.checks.deliver_balance(iak, call.respond),
            what="balance card",
        )

    async def _cooling_down(self, call: Invocation) -> bool:
        """Whether this person asked IAK too recently (a status, the balance or a Recheck
        within CHECK_COOLDOWN); if so they are told when they can ask again."""
        wait = self.services.check_cooldown.wait_left(call.user_id)
        if wait is None:
            return False
        await ack_ephemeral(call.ack, note(recheck_cooldown(wait)))
        return True

    async def find(self, call: Invocation) -> None:
        """`/iak find <customer number | serial | tr_id | ref_id>`: the stored transactions
        that match, newest first."""
        typed = without_controls(call.args).strip()
        if not typed or search_too_long(typed):
            if typed:
                note_text = search_too_long_note()
            else:
                note_text = _(
                    "Find what? Give a customer number, a serial number, a tr_id or a ref_id, "
                    "for example /iak find 0812-3450-0001."
                )
            await ack_ephemeral(call.ack, help_message([FIND_HELP], note=note_text))
            return
        wait = self.services.find_cooldown.wait_left(call.user_id)
        if wait is not None:
            await ack_ephemeral(call.ack, note(search_cooldown(wait)))
            return
        await self._answer_from_store(
            call,
            self.finds.answer(typed, user_id=call.user_id),
            waiting=reading_message(FIND_WHAT),
            name="find",
        )

    async def product(self, call: Invocation) -> None:
        """`/iak product <code or words>`: from the cached price lists, or IAK's when old."""
        if search_too_long(call.args):
            note = search_too_long_note()
            await ack_ephemeral(call.ack, help_message([PRODUCT_HELP], note=note))
            return
        lines, query = product_query(call.args)
        if not query:
            note = _("Which product? Give its code or words, for example /iak product xld25000.")
            await ack_ephemeral(call.ack, help_message([PRODUCT_HELP], note=note))
            return
        price_lists = self.services.price_lists
        if price_lists is None:
            await ack_ephemeral(call.ack, not_configured_message(self.services.settings))
            return
        await self.products.answer(
            price_lists, lines, query, call.ack, call.respond, read_within=ANSWER_IN_ACK_WITHIN
        )

    async def pending(self, call: Invocation) -> None:
        """`/iak pending`: the first page of pending transactions, oldest first."""
        await self._answer_from_store(
            call, self.reports.pending(), waiting=reading_message(PENDING_WHAT), name="pending"
        )

    async def stats(self, call: Invocation) -> None:
        """`/iak stats [1h|24h|7d]`: outcomes and top failure codes in that window."""
        window = parse_stats_window(call.args)
        if window is None:
            note = _("“{window}” is not a window: use 1h, 24h or 7d.").format(
                window=truncate(call.args, 40)
            )
            await ack_ephemeral(call.ack, help_message([STATS_HELP], note=note))
            return
        await self._answer_from_store(
            call, self.reports.stats(window), waiting=reading_message(STATS_WHAT), name="stats"
        )

    async def handover(self, call: Invocation) -> None:
        """`/iak handover`: what the next shift needs, as of now."""
        await self._answer_from_store(
            call, self.reports.handover(), waiting=reading_message(HANDOVER_WHAT), name="handover"
        )

    async def _answer_from_store(
        self,
        call: Invocation,
        answer: Coroutine[object, object, Message],
        *,
        waiting: Message,
        name: str,
    ) -> None:
        """Answer in the ack when the store answers fast, else ack now and post it later.

        The reads are indexed and usually take milliseconds, so the answer nearly always
        fits in the ack: one message, and nothing to lose if response_url fails. But a
        database under load (or a Postgres failing over) must not make Slack show the
        user an operation_timeout, so the ack never waits past ANSWER_IN_ACK_WITHIN.
        """
        task = self.services.background.spawn(answer, name=f"read-{name}")
        done, __ = await asyncio.wait({task}, timeout=ANSWER_IN_ACK_WITHIN)
        if task in done:
            await ack_ephemeral(call.ack, task.result())
            return
        await ack_ephemeral(call.ack, waiting)
        answer_later(
            self.services.background,
            call.respond,
            self._post_when_read(task, call.respond, what=name),
            what=name,
        )

    async def _post_when_read(
        self, task: asyncio.Task[Message], respond: AsyncRespond, *, what: str
    ) -> None:
        message = await task
        await post_later(respond, message, what=what)

    async def help(self, call: Invocation) -> None:
        """`/iak help`."""
        await ack_ephemeral(call.ack, help_message(self.usage()))


def _status_args(args: str) -> tuple[Line, str]:
    """`order001` (prepaid), `pp bill001` / `postpaid bill001` / `prepaid order001`; a line's
    name alone asks which ref_id. Whatever else is given is the ref_id, to be refused."""
    first, __, rest = args.partition(" ")
    line = line_named(first)
    if line is None:
        return Line.PREPAID, args
    return line, rest


def register(app: AsyncApp, services: Services) -> IakCommand:
    """Wire `/iak` into the app; returns the router so later features can add subcommands."""
    iak = IakCommand(services)
    app.command(COMMAND)(iak.handle)
    return iak
