"""Who may see transaction data (ALLOWED_USERS, ALLOWED_CHANNELS, the bot's own workspace)
and who may do what to an alert (ADMIN_USERS).

Transaction details (status, pending, stats, balance, and what alert buttons do) are
customer data. A request is allowed when (no user list, or the user is listed) and (no
channel list, or the channel is listed) and it comes from the bot's own workspace (not
from another organisation in a Slack Connect channel); empty lists allow everyone.
Remediation cards (`/iak code`, `codes`, `help`, Share) hold no customer data and are
never checked.

The check runs before anything is read: a refused request reaches neither IAK nor the
database, and its answer names nothing (not the lists, not what was asked about).

On an alert, anyone allowed acknowledges and rechecks; muting (which also stops the
escalation to on-call) is for ADMIN_USERS; and a click acts only on an incident of the
channel it was clicked in. Revealing a serial number whole (Show SN) is for ADMIN_USERS too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_bolt.response import BoltResponse

from bot.background import BackgroundTasks
from bot.config import Settings
from bot.i18n import _
from bot.services import Services, Workspace
from bot.shapes import Json, JsonView
from bot.slack.blocks.access import access_refused
from bot.slack.interactions import MAX_SLACK_ID, Click, post_soon

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Requester:
    """Who asked, and in which channel (None where there is none, as on the Home tab), and
    the workspaces the request names (the person's own, and where they acted)."""

    user_id: str
    channel_id: str | None
    teams: frozenset[str] = frozenset()

    @classmethod
    def of(cls, body: JsonView) -> Requester:
        """The requester of a slash command or of an interaction (block_actions and the like)."""
        teams = _teams(body)
        if "command" in body:
            channel = str(body.get("channel_id", "")) or None
            return cls(str(body.get("user_id", "")), channel, teams)
        click = Click.of(body)
        return cls(click.user_id, click.channel_id, teams)


def _teams(body: JsonView) -> frozenset[str]:
    """Every workspace id a request carries: a slash command's `team_id` (and `user_team`),
    an interaction's `team.id` and `user.team_id`."""
    team = body.get("team")
    user = body.get("user")
    found = (
        body.get("team_id"),
        body.get("user_team"),
        team.get("id") if isinstance(team, Mapping) else None,
        user.get("team_id") if isinstance(user, Mapping) else None,
    )
    return frozenset(str(id_)[:MAX_SLACK_ID] for id_ in found if id_)


@dataclass(frozen=True)
class AccessPolicy:
    """ALLOWED_USERS, ALLOWED_CHANNELS and ADMIN_USERS; an empty set allows everyone."""

    users: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> AccessPolicy:
        """The policy the settings describe: without ADMIN_USERS, the people ALLOWED_USERS
        names are the admins (everyone, when it is empty too)."""
        return cls(
            frozenset(settings.allowed_users),
            frozenset(settings.allowed_channels),
            frozenset(settings.admin_users or settings.allowed_users),
        )

    def allows(self, requester: Requester) -> bool:
        """(no user list or the user is listed) and (no channel list or the channel is listed).

        With a channel list, a request from no channel (the Home tab) is refused: the list
        says where transaction data may appear, and nothing says that place is one of them.
        """
        user_ok = not self.users or requester.user_id in self.users
        channel_ok = not self.channels or requester.channel_id in self.channels
        return user_ok and channel_ok

    def allows_muting(self, user_id: str) -> bool:
        """Whether the person may mute and unmute incidents (and a code's future ones), on
        top of seeing them: a mute holds back the incident's messages and its escalation."""
        return self._is_admin(user_id)

    def allows_revealing_serials(self, user_id: str) -> bool:
        """Whether the person may see a serial number whole, on top of seeing transactions:
        a serial (a PLN token, a voucher's code) is what the customer paid for, and can be
        used by whoever reads it."""
        return self._is_admin(user_id)

    def _is_admin(self, user_id: str) -> bool:
        return not self.admins or user_id in self.admins

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

    def __init__(
        self, policy: AccessPolicy, workspace: Workspace, background: BackgroundTasks
    ) -> None:
        self.policy = policy
        self.workspace = workspace
        self.background = background

    @classmethod
    def from_services(cls, services: Services) -> AccessGuard:
        """The guard for the bot's settings."""
        return cls(
            AccessPolicy.from_settings(services.settings), services.workspace, services.background
        )

    async def admits(self, requester: Requester, *, what: str) -> bool:
        """Whether the policy allows the requester, from the bot's own workspace; a refusal
        is logged (IDs only). The lists are checked first: a request they refuse does not
        wait for Slack's auth.test."""
        if not self.policy.allows(requester):
            reason = "ALLOWED_USERS / ALLOWED_CHANNELS"
        elif not await self.from_own_workspace(requester):
            reason = "another workspace, or the bot's own is unknown: auth.test failed"
        else:
            return True
        log.info(
            "refused %s to user %s in channel %s (%s)",
            what,
            requester.user_id or "?",
            requester.channel_id or "(none)",
            reason,
        )
        return False

    async def from_own_workspace(self, requester: Requester) -> bool:
        """Whether every workspace the request names is the bot's own (auth.test's team).
        A request that names none, or while the bot's own is unknown, is not."""
        if not requester.teams:
            return False
        own = await self.workspace.team_id()
        return own is not None and requester.teams == {own}

    async def check(
        self,
        ack: AsyncAck,
        body: Json,
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
        if await self.admits(Requester.of(body), what=_describe(body)):
            await next_()
            return None
        acked = await ack()
        if respond.response_url is None:
            return acked
        # Slack ignores what an interaction's ack carries, so the answer goes by response_url.
        post_soon(self.background, respond, access_refused(), what="refusal")
        return acked


class _Located(Protocol):
    """An incident, as far as where it is posted goes."""

    @property
    def channel(self) -> str | None: ...


class AlertPermissions:
    """What a click on an alert may do: anyone the guard let through acknowledges and
    rechecks; only admins mute or unmute; and only on an incident of the channel the click
    came from (a button copied elsewhere, or a forged payload, acts on nothing)."""

    def __init__(self, policy: AccessPolicy, incident: Callable[[int], _Located | None]) -> None:
        self.policy = policy
        self.incident = incident

    async def refusal(self, body: JsonView, incident_id: int, *, mute: bool) -> str | None:
        """None when the click may act on the incident; else what to tell the clicker."""
        click = Click.of(body)
        if mute and not self.policy.allows_muting(click.user_id):
            log.info("refused a mute to user %s (ADMIN_USERS)", click.user_id or "?")
            return _(
                "Only the bot's admins can mute or unmute an alert. Acknowledge it instead, "
                "or ask one of them."
            )
        incident = await asyncio.to_thread(self.incident, incident_id)
        if incident is not None and incident.channel != click.channel_id:
            log.info(
                "refused a click on incident %s from channel %s, not the incident's",
                incident_id,
                click.channel_id or "(none)",
            )
            return _("This button acts only on the alert it belongs to, in its channel.")
        return None


def _describe(body: JsonView) -> str:
    """What was asked, for the log: the command, or the clicked action's id."""
    if "command" in body:
        return str(body.get("command"))
    return f"action {Click.of(body).action_id or body.get('type', '?')}"
