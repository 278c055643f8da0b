"""Whose language an answer is written in: the asker's Slack locale, looked up and cached.

An ephemeral answer (and the Home tab, which only its owner sees) follows the person's
Slack locale when it is one the bot speaks (`id-ID`, `en-…`), else BOT_LANGUAGE. The
locale comes from `users.info` with `include_locale`, cached in this process; the lookup
is time-boxed so that it never costs the 3-second ack, and one that is still running when
the box closes keeps going and fills the cache for the person's next request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.background import BackgroundTasks
from bot.clock import Clock
from bot.i18n import Language, language_of_locale, use_language

log = logging.getLogger(__name__)

# How long an ack may wait for a person's locale: a small share of Slack's 3 seconds.
LOOKUP_WAIT_SECONDS = 0.5
# People rarely change their Slack language; an hour keeps it to one lookup a working hour.
LOCALE_TTL = timedelta(hours=1)
# After a failed lookup, BOT_LANGUAGE for a while rather than a wait on every request.
FAILURE_TTL = timedelta(minutes=1)
# Past this many people remembered, the ones whose entry has expired are forgotten.
_PRUNE_AT = 1000


@dataclass(frozen=True)
class _Known:
    # None: the person's locale is one the bot does not speak, or the lookup failed.
    language: Language | None
    until: datetime


class PersonLanguages:
    """Each person's language, from their Slack locale; BOT_LANGUAGE when it is unknown."""

    def __init__(
        self,
        fallback: Language,
        clock: Clock,
        background: BackgroundTasks,
        *,
        wait_seconds: float = LOOKUP_WAIT_SECONDS,
    ) -> None:
        self.fallback = fallback
        self.clock = clock
        self.background = background
        self.wait_seconds = wait_seconds
        self._known: dict[str, _Known] = {}
        self._lookups: dict[str, asyncio.Task[Language | None]] = {}

    async def language_of(self, user_id: str, client: AsyncWebClient) -> Language:
        """The person's language: cached, or looked up within the time box."""
        known = self._known.get(user_id)
        if known is not None and self.clock.now() < known.until:
            return known.language or self.fallback
        task = self._lookups.get(user_id)
        if task is None:
            task = self.background.spawn(self._look_up(user_id, client), name="users-info")
            self._lookups[user_id] = task
        try:
            found = await asyncio.wait_for(asyncio.shield(task), self.wait_seconds)
        except TimeoutError:
            log.info("Slack's users.info is slow: answering in %s meanwhile", self.fallback)
            return self.fallback
        return found or self.fallback

    async def _look_up(self, user_id: str, client: AsyncWebClient) -> Language | None:
        try:
            answer = await client.users_info(user=user_id, include_locale=True)
            user = answer.get("user") or {}
            found = language_of_locale(user.get("locale"))
            ttl = LOCALE_TTL
        except Exception as exc:  # any Slack or network failure: BOT_LANGUAGE for a while
            log.warning("could not look up a person's Slack locale: %s", exc)
            found, ttl = None, FAILURE_TTL
        finally:
            self._lookups.pop(user_id, None)
        now = self.clock.now()
        if len(self._known) >= _PRUNE_AT:
            self._known = {k: v for k, v in self._known.items() if now < v.until}
        self._known[user_id] = _Known(found, now + ttl)
        return found

    async def middleware(
        self, context: AsyncBoltContext, next_: Callable[[], Awaitable[object]]
    ) -> object:
        """Bolt middleware: everything a request's listener writes (and the work it leaves
        for after the ack, which inherits the context) is in the asker's language.

        Bolt runs the listener after the middleware chain has returned, not inside `next_`,
        so the language is set for the rest of the request's task rather than around it."""
        user_id = context.user_id
        client = context.client
        chosen = self.fallback
        if user_id and client is not None:
            chosen = await self.language_of(user_id, client)
        use_language(chosen)
        return await next_()
