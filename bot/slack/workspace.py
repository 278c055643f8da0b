"""The bot's own Slack workspace, as Slack's auth.test names it.

In a Slack Connect channel people of other organisations can click the bot's buttons and
type its commands; their requests carry their own workspace's id. Those get no transaction
data and change nothing (bot.slack.access). auth.test is asked on the first request that
needs the answer, not at start, so that `/iak code` works while Slack's Web API does not.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

# The check runs before a slash command's ack, inside Slack's 3 seconds.
AUTH_TEST_TIMEOUT_SECONDS = 1.5
# People known to belong here, remembered until there are this many (then asked again).
MAX_MEMBERS_REMEMBERED = 10_000


class Workspace:
    """auth.test's team id, asked once and remembered for the life of the process."""

    def __init__(
        self,
        client: AsyncWebClient,
        token: str | None,
        *,
        timeout: float = AUTH_TEST_TIMEOUT_SECONDS,
    ) -> None:
        self.client = client
        self.token = token
        self.timeout = timeout
        self._team_id: str | None = None
        self._asking = asyncio.Lock()
        # people users.info put in the bot's own workspace (only yes is remembered)
        self._members: set[str] = set()

    async def team_id(self) -> str | None:
        """The workspace's id; None while Slack does not say (unreachable, an error), and
        then it is asked again next time."""
        if self._team_id is not None:
            return self._team_id
        async with self._asking:
            if self._team_id is None and self.token:
                self._team_id = await self._ask()
        return self._team_id

    async def has_member(self, user_id: str) -> bool:
        """Whether users.info puts the person in the bot's own workspace; False for a Slack
        Connect guest, and while Slack does not say (asked again next time)."""
        if user_id in self._members:
            return True
        own = await self.team_id()
        if own is None:
            return False
        try:
            answer = await asyncio.wait_for(
                self.client.users_info(token=self.token, user=user_id), timeout=self.timeout
            )
        except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("users.info failed, so a person's workspace is unknown: %s", exc)
            return False
        user = answer.get("user") or {}
        if user.get("team_id") != own:
            return False
        if len(self._members) >= MAX_MEMBERS_REMEMBERED:
            self._members.clear()
        self._members.add(user_id)
        return True

    async def _ask(self) -> str | None:
        try:
            answer = await asyncio.wait_for(
                self.client.auth_test(token=self.token), timeout=self.timeout
            )
        except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("auth.test failed, so this request's workspace is unknown: %s", exc)
            return None
        team = answer.get("team_id")
        return str(team) if team else None
