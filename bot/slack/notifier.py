"""Delivers the outbox to Slack: in order per incident, paced per channel, 429s honoured,
network errors and 5xx retried until Slack is back, permanent errors reported loudly.

Like Alertmanager's notifier, it classifies every failure as retryable or permanent; unlike
it, a 429 is retried after Retry-After instead of dropping the notification.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.model import Incident, OutboxAction, OutboxItem
from bot.alerts.store import IncidentStore
from bot.clock import Clock
from bot.registry import Registry
from bot.slack.blocks.alerts import parent_message, reply_message
from bot.slack.blocks.text import Message

log = logging.getLogger(__name__)

# Errors no retry will cure: an operator has to act (invite the bot, fix the token...).
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "restricted_action",
        "team_access_not_granted",
        "ekm_access_denied",
    }
)
# ok:false errors that are Slack's own trouble: retried like a 5xx.
RETRYABLE_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
MAX_BACKOFF = 60.0
POLL_SECONDS = 1.0


@dataclass
class ChannelState:
    """What the notifier knows about one channel."""

    last_sent: float = 0.0  # monotonic
    paused_until: float = 0.0  # monotonic: 429 or an outage
    failures: int = 0  # consecutive retryable failures, for backoff
    blocked: str | None = None  # a permanent error; cleared only by a restart


@dataclass
class DeliveryReport:
    """One pass over the outbox."""

    sent: int = 0
    held: int = 0
    errors: list[str] = field(default_factory=list)


class Notifier:
    """Renders queued incident messages with the alert builders and delivers them."""

    def __init__(
        self,
        incidents: IncidentStore,
        client: AsyncWebClient,
        registry: Registry,
        clock: Clock,
        *,
        mask_customer_id: bool = True,
        pace_seconds: float = 1.0,
    ) -> None:
        self.incidents = incidents
        self.client = client
        self.registry = registry
        self.clock = clock
        self.mask = mask_customer_id
        self.pace_seconds = pace_seconds
        self.channels: dict[str, ChannelState] = {}
        self._wake = asyncio.Event()

    @property
    def blocked(self) -> dict[str, str]:
        """Channels whose deliveries stopped on a permanent error, with the error."""
        return {name: state.blocked for name, state in self.channels.items() if state.blocked}

    def wake(self) -> None:
        """Something new is queued: deliver now rather than at the next poll."""
        self._wake.set()

    async def run(self, is_leader: Callable[[], bool], stopping: asyncio.Event) -> None:
        """Deliver while this process runs the monitor, until `stopping` is set."""
        while not stopping.is_set():
            if is_leader():
                try:
                    await self.deliver()
                except Exception:
                    log.exception("outbox delivery pass failed; retrying")
            self._wake.clear()
            waits = [
                asyncio.ensure_future(self._wake.wait()),
                asyncio.ensure_future(stopping.wait()),
            ]
            await asyncio.wait(
                waits, timeout=self._next_wait(), return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in waits:
                waiter.cancel()

    def _next_wait(self) -> float:
        now = time.monotonic()
        paused = [s.paused_until - now for s in self.channels.values() if s.paused_until > now]
        return max(min([POLL_SECONDS, *paused]), 0.01)

    async def deliver(self, limit: int = 100) -> DeliveryReport:
        """One pass: send every due row in order; a held row holds back its incident's later
        rows, so a thread never shows a reply before the message it belongs to."""
        report = DeliveryReport()
        items = await asyncio.to_thread(self.incidents.due, limit)
        held: set[int] = set()
        later_edit = _later_edits(items)
        for item in items:
            channel = self.channels.setdefault(item.channel, ChannelState())
            if (
                item.incident_id in held
                or channel.blocked
                or channel.paused_until > time.monotonic()
            ):
                held.add(item.incident_id)
                report.held += 1
                continue
            if item.action is OutboxAction.UPDATE_PARENT and item.id in later_edit:
                # A later edit of the same parent will show the same, newer state.
                await self._mark(item, "superseded")
                continue
            incident = await asyncio.to_thread(self.incidents.get, item.incident_id)
            if incident is None:
                await self._mark(item, "superseded")
                continue
            if item.action is OutboxAction.UPDATE_PARENT and incident.parent_ts is None:
                # Not posted (yet): when it is, it shows the state of that moment.
                await self._mark(item, "superseded")
                continue
            if item.action is OutboxAction.REPLY and incident.parent_ts is None:
                held.add(item.incident_id)  # its parent is not posted yet
                report.held += 1
                continue
            if not await self._send(item, incident, channel, report):
                held.add(item.incident_id)
        return report

    async def _send(
        self, item: OutboxItem, incident: Incident, channel: ChannelState, report: DeliveryReport
    ) -> bool:
        message = self._render(item, incident)
        wait = channel.last_sent + self.pace_seconds - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            response = await self._call(item, incident, message)
        except SlackApiError as exc:
            return await self._failed(
                item,
                channel,
                exc.response.status_code,
                exc.response.get("error"),
                exc.response.headers,
                report,
            )
        except Exception as exc:  # network: refused, reset, timeout, unreadable answer
            return await self._failed(
                item, channel, None, f"{exc.__class__.__name__}: {exc}", {}, report
            )
        finally:
            channel.last_sent = time.monotonic()
        channel.failures = 0
        if item.action is OutboxAction.POST_PARENT:
            await asyncio.to_thread(
                self.incidents.set_parent,
                incident.id,
                str(response["channel"]),
                str(response["ts"]),
            )
        await self._mark(item, "sent")
        report.sent += 1
        return True

    async def _call(self, item: OutboxItem, incident: Incident, message: Message) -> Any:
        if item.action is OutboxAction.POST_PARENT:
            return await self.client.chat_postMessage(
                channel=item.channel, text=message["text"], blocks=message["blocks"]
            )
        if item.action is OutboxAction.UPDATE_PARENT:
            return await self.client.chat_update(
                channel=incident.channel or item.channel,
                ts=incident.parent_ts or "",
                text=message["text"],
                blocks=message["blocks"],
            )
        broadcast = bool(item.payload.get("broadcast")) and incident.acknowledged_by is None
        return await self.client.chat_postMessage(
            channel=incident.channel or item.channel,
            thread_ts=incident.parent_ts,
            reply_broadcast=broadcast,
            text=message["text"],
            blocks=message["blocks"],
        )

    def _render(self, item: OutboxItem, incident: Incident) -> Message:
        now = self.clock.now()
        if item.action is OutboxAction.REPLY:
            return reply_message(incident, item.payload, self.registry, mask=self.mask)
        return parent_message(incident, now, self.registry, mask=self.mask)

    async def _failed(
        self,
        item: OutboxItem,
        channel: ChannelState,
        status: int | None,
        error: object,
        headers: Any,
        report: DeliveryReport,
    ) -> bool:
        reason = str(error or f"HTTP {status}")
        report.errors.append(reason)
        await asyncio.to_thread(self.incidents.failed_attempt, item.id, reason)
        if status == 429 or error == "ratelimited":
            retry_after = _retry_after(headers)
            channel.paused_until = time.monotonic() + retry_after
            log.warning("Slack rate limit on %s: waiting %.0f s as told", item.channel, retry_after)
            return False
        if isinstance(error, str) and error in PERMANENT_ERRORS:
            channel.blocked = error
            log.error(
                "ALERTS STOPPED for channel %s: Slack says %s. Fix it (invite the bot, check "
                "SLACK_BOT_TOKEN and OPS_CHANNEL) and restart; the alerts wait in the outbox.",
                item.channel,
                error,
            )
            return False
        if status is None or status >= 500 or error in RETRYABLE_ERRORS:
            channel.failures += 1
            backoff = min(2 ** (channel.failures - 1), MAX_BACKOFF)
            channel.paused_until = time.monotonic() + backoff
            log.warning(
                "Slack unavailable (%s); retrying %s in %.0f s", reason, item.channel, backoff
            )
            return False
        # Anything else (invalid_blocks, msg_too_long...) is our bug: retrying cannot help,
        # and holding the incident back forever would lose everything after it.
        log.error("Slack refused outbox item %s for good (%s); skipping it", item.id, reason)
        await self._mark(item, "failed")
        return True

    async def _mark(self, item: OutboxItem, state: str) -> None:
        await asyncio.to_thread(self.incidents.mark, item.id, state, self.clock.now())


def _later_edits(items: list[OutboxItem]) -> set[int]:
    """Edits of a parent that a later edit of the same parent makes pointless."""
    last: dict[int, int] = {}
    for item in items:
        if item.action is OutboxAction.UPDATE_PARENT:
            last[item.incident_id] = item.id
    return {
        item.id
        for item in items
        if item.action is OutboxAction.UPDATE_PARENT and last[item.incident_id] != item.id
    }


def _retry_after(headers: Any) -> float:
    value = None
    if headers:
        for key in ("Retry-After", "retry-after"):
            found = headers.get(key)
            if found:
                value = found[0] if isinstance(found, list) else found
                break
    try:
        return max(float(value), 1.0) if value is not None else 1.0
    except ValueError:
        return 1.0
