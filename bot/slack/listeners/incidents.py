"""Buttons on alerts: Acknowledge, Mute / Unmute, Recheck now.

Every click is acked at once (Slack's 3 seconds) and the work follows in the background; the
answer to the clicker is ephemeral, and what the channel should see goes through the
incident's outbox like any alert (the thread note, the edited parent). The buttons show
transaction data, so they are behind the access guard.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.clock import wib_moment, wib_time
from bot.cooldown import Cooldown
from bot.i18n import _, ngettext
from bot.incidents.model import Incident, IncidentKind
from bot.services import Services
from bot.shapes import Json
from bot.slack.access import AccessGuard, AccessPolicy, AlertPermissions
from bot.slack.alerts.render import ACK_ACTION, MUTE_ACTION, RECHECK_NOW_ACTION
from bot.slack.blocks.markup import md, mention
from bot.slack.blocks.text import note, recheck_cooldown
from bot.slack.interactions import Click, answer_later, post_later

if TYPE_CHECKING:
    from bot.slack.alerts.alerting import Alerting

RECHECK_NOW_LIMIT = 50
# "Recheck now" asks IAK about up to RECHECK_NOW_LIMIT transactions: once a minute a person.
RECHECK_NOW_COOLDOWN = timedelta(minutes=1)


class IncidentActions:
    """What the alert buttons do."""

    def __init__(self, services: Services, alerting: Alerting | None) -> None:
        self.services = services
        self.alerting = alerting
        self.cooldown = Cooldown(services.clock, RECHECK_NOW_COOLDOWN)
        self.permissions = AlertPermissions(
            AccessPolicy.from_settings(services.settings), services.incidents.get
        )

    async def acknowledge(self, ack: AsyncAck, body: Json, respond: AsyncRespond) -> None:
        """Acknowledge: recorded, told in the thread, shown on the parent."""
        await ack()
        self._later(respond, self._acknowledge(body, respond), "acknowledgement")

    async def mute(self, ack: AsyncAck, body: Json, respond: AsyncRespond) -> None:
        """Mute for 1/4/24 h (optionally the rc's future incidents too), or unmute."""
        await ack()
        self._later(respond, self._mute(body, respond), "mute")

    async def recheck(self, ack: AsyncAck, body: Json, respond: AsyncRespond) -> None:
        """Recheck now: ask IAK about the incident's waiting transactions at once."""
        await ack()
        self._later(respond, self._recheck(body, respond), "recheck of an incident")

    def _later(
        self, respond: AsyncRespond, work: Coroutine[object, object, None], what: str
    ) -> None:
        # The clicked alert is the channel's: an error gets a message of its own.
        answer_later(self.services.background, respond, work, what=what, replace_original=False)

    async def _acknowledge(self, body: Json, respond: AsyncRespond) -> None:
        incident_id, __ = _value(body)
        if (refusal := await self.permissions.refusal(body, incident_id, mute=False)) is not None:
            await _tell(respond, refusal)
            return
        user = _user(body)
        now = self.services.clock.now()
        before = await asyncio.to_thread(
            self.services.incidents.acknowledge, incident_id, user, now
        )
        if await self._closed(before, respond):
            return
        assert before is not None
        if before.acknowledged_by:
            await _tell(
                respond,
                md(
                    _("{person} already acknowledged this."), person=mention(before.acknowledged_by)
                ),
            )
            return
        self._wake()
        await _tell(
            respond,
            _("Acknowledged. Updates keep coming in the thread, without pinging the channel."),
        )

    async def _mute(self, body: Json, respond: AsyncRespond) -> None:
        incident_id, choice = _value(body)
        if (refusal := await self.permissions.refusal(body, incident_id, mute=True)) is not None:
            await _tell(respond, refusal)
            return
        minutes, __, scope = choice.partition(":")
        now = self.services.clock.now()
        until = (
            now + timedelta(minutes=int(minutes)) if minutes.isdigit() and int(minutes) else None
        )
        before = await asyncio.to_thread(
            self.services.incidents.mute,
            incident_id,
            _user(body),
            until,
            now,
            future_ones=scope == "all",
        )
        if await self._closed(before, respond):
            return
        assert before is not None
        self._wake()
        if until is None:
            await _tell(
                respond, _("Unmuted: new messages about this incident will be posted again.")
            )
        elif scope == "all":
            await _tell(
                respond,
                _("Muted until {time}, with any new incident of rc {rc} until then.").format(
                    time=wib_time(until), rc=before.key
                ),
            )
        else:
            await _tell(respond, _("Muted until {time}.").format(time=wib_time(until)))

    async def _recheck(self, body: Json, respond: AsyncRespond) -> None:
        incident_id, __ = _value(body)
        if (refusal := await self.permissions.refusal(body, incident_id, mute=False)) is not None:
            await _tell(respond, refusal)
            return
        incident = await asyncio.to_thread(self.services.incidents.get, incident_id)
        if await self._closed(incident, respond):
            return
        assert incident is not None
        if incident.kind is not IncidentKind.PENDING or self.alerting is None:
            await _tell(respond, _("There is nothing to recheck for this incident."))
            return
        if self.services.iak is None:
            await _tell(
                respond, _("IAK_USERNAME and IAK_API_KEY are not set, so the bot cannot ask IAK.")
            )
            return
        wait = self.cooldown.wait_left(_user(body))
        if wait is not None:
            await _tell(respond, recheck_cooldown(wait))
            return
        monitor = self.alerting.monitor
        waiting = await monitor.waiting_in(incident_id, RECHECK_NOW_LIMIT)
        if not waiting:
            await _tell(respond, _("No transaction of this incident is still waiting."))
            return
        asking = ngettext(
            "Asking IAK about {count} transaction now…",
            "Asking IAK about {count} transactions now…",
            len(waiting),
        )
        await _tell(respond, asking.format(count=len(waiting)))
        answered = await monitor.recheck_now(waiting)
        # The next tick tells each settled outcome in the thread; this says the check ran.
        await asyncio.to_thread(
            self.services.incidents.note_recheck,
            incident_id,
            _user(body),
            len(waiting),
            answered,
            self.services.clock.now(),
        )
        self._wake()

    async def _closed(self, incident: Incident | None, respond: AsyncRespond) -> bool:
        if incident is None:
            await _tell(respond, _("This incident no longer exists."))
            return True
        if not incident.is_open:
            if incident.resolved_at:
                resolved = _("This incident already resolved ({when}); nothing to do.").format(
                    when=wib_moment(incident.resolved_at)
                )
            else:
                resolved = _("This incident already resolved; nothing to do.")
            await _tell(respond, resolved)
            return True
        return False

    def _wake(self) -> None:
        if self.alerting is not None:
            self.alerting.wake()


def _value(body: Json) -> tuple[int, str]:
    """(incident id, the rest) from a button's value or a menu's chosen option."""
    head, __, rest = Click.of(body).value.partition(":")
    return (int(head) if head.isdigit() else -1), rest


def _user(body: Json) -> str:
    return Click.of(body).user_id


async def _tell(respond: AsyncRespond, text: str) -> None:
    """An ephemeral answer to the clicker alone; the alert itself stays as it is."""
    await post_later(respond, note(text), what="answer to a click")


def register(app: AsyncApp, services: Services, alerting: Alerting | None) -> None:
    """Wire the alert buttons, behind the access guard."""
    actions = IncidentActions(services, alerting)
    guarded = [AccessGuard.from_services(services).check]
    app.action(ACK_ACTION, middleware=guarded)(actions.acknowledge)
    app.action(MUTE_ACTION, middleware=guarded)(actions.mute)
    app.action(RECHECK_NOW_ACTION, middleware=guarded)(actions.recheck)
