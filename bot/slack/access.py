"""Who may see transaction data: ALLOWED_USERS and ALLOWED_CHANNELS.

Transaction details (status, pending, stats, balance, and what alert buttons do) are
customer data. A request is allowed when (no user list, or the user is listed) and (no
channel list, or the channel is listed); empty lists allow everyone. Remediation cards
(`/iak code`, `codes`, `help`, Share) hold no customer data and are never checked.

The check runs before anything is read: a refused request reaches neither IAK nor the
database, and its answer names nothing (not the lists, not what was asked about).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_bolt.response import BoltResponse

from bot.background import BackgroundTasks
from bot.config import Settings
from bot.services import Services
from bot.slack.blocks.access import access_refused
from bot.slack.interactions import Click, post_soon

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Requester:
    """Who asked, and in which channel (None where there is none, as on the Home tab)."""

    user_id: str
    channel_id: str | None

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Requester:
        """The requester of a slash command or of an interaction (block_actions and the like)."""
        if "command" in body:
            return cls(str(body.get("user_id", "")), str(body.get("channel_id", "")) or None)
        click = Click.of(body)
        return cls(click.user_id, click.channel_id)


@dataclass(frozen=True)
class AccessPolicy:
    """ALLOWED_USERS and ALLOWED_CHANNELS; an empty set allows everyone."""

    users: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> AccessPolicy:
        """The policy the settings describe."""
        return cls(frozenset(settings.allowed_users), frozenset(settings.allowed_channels))

    def allows(self, requester: Requester) -> bool:
        """(no user list or the user is listed) and (no channel list or the channel is listed).

        With a channel list, a request from no channel (the Home tab) is refused: the list
        says where transaction data may appear, and nothing says that place is one of them.
        """
        user_ok = not self.users or requester.user_id in self.users
        channel_ok = not self.channels or requester.channel_id in self.channels
        return user_ok and channel_ok

    def allows_home(self, user_id: str) -> bool:
        """For the Home tab, which belongs to one person and to no channel. With a channel
        list, transaction data appears only where it says, and a Home tab is not one of
        those places: only people ALLOWED_USERS names see the dashboard there. Without one,
        the user list alone decides (everyone, when it is empty)."""
        if self.channels:
            return user_id in self.users
        return not self.users or user_id in self.users


class AccessGuard:
    """Applies the policy to Bolt requests, logging refusals and answering them politely."""

    def __init__(self, policy: AccessPolicy, background: BackgroundTasks) -> None:
        self.policy = policy
        self.background = background

    @classmethod
    def from_services(cls, services: Services) -> AccessGuard:
        """The guard for the bot's settings."""
        return cls(AccessPolicy.from_settings(services.settings), services.background)

    def admits(self, requester: Requester, *, what: str) -> bool:
        """Whether the policy allows the requester; a refusal is logged (IDs only)."""
        if self.policy.allows(requester):
            return True
        log.info(
            "refused %s to user %s in channel %s (ALLOWED_USERS / ALLOWED_CHANNELS)",
            what,
            requester.user_id or "?",
            requester.channel_id or "(none)",
        )
        return False

    async def check(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        next_: Callable[[], Awaitable[None]],
    ) -> BoltResponse | None:
        """Bolt listener middleware: `app.action(ID, middleware=[guard.check])(listener)`.

        An allowed request goes on to the listener. A refused one is acked here and the
        listener never runs; the refusal goes to the requester alone, as a new ephemeral
        message, so the card they clicked stays as it was. A click with no response_url
        (a Home tab view) is refused silently: hide such buttons from people `allows`
        refuses when rendering the view.
        """
        if self.admits(Requester.of(body), what=_describe(body)):
            await next_()
            return None
        acked = await ack()
        if respond.response_url is None:
            return acked
        # Slack ignores what an interaction's ack carries, so the answer goes by response_url.
        post_soon(self.background, respond, access_refused(), what="refusal")
        return acked


def _describe(body: Mapping[str, Any]) -> str:
    """What was asked, for the log: the command, or the clicked action's id."""
    if "command" in body:
        return str(body.get("command"))
    return f"action {Click.of(body).action_id or body.get('type', '?')}"
