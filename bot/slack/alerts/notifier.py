"""Delivers the outbox to Slack: in order per incident, paced per channel, 429s honoured,
network errors and 5xx retried until Slack is back, permanent errors reported loudly.

Like Alertmanager's notifier, it classifies every failure as retryable or permanent; unlike
it, a 429 is retried after Retry-After instead of dropping the notification. Each row is
first rendered (a pure step: `bot.slack.alerts.render`), then delivered; a row that cannot
be read or rendered fails for good like a permanent Slack error on that row, so it never
holds back what comes after it.

Every wait (pacing, Retry-After, back-off) is a time on the injected clock before which a
channel is not called again; a pass never sleeps, it says when the next one is worth it.
A row is only sent while this process is sure to keep the monitor's lease for a while:
another process can take over only once the lease has expired, so no two processes post
the same row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.i18n import DEFAULT_LANGUAGE, Language, language
from bot.incidents.kinds.digest import DigestChart, DigestDetails
from bot.incidents.model import Incident, OutboxItem, PostParent, ThreadReply, UpdateParent
from bot.incidents.repository import IncidentRepository
from bot.registry import Registry
from bot.shapes import JsonView, Work
from bot.slack.alerts.render import alert_message
from bot.slack.blocks.digest import chart_title
from bot.slack.blocks.text import Message
from bot.slack.chart import hourly_chart
from bot.slack.uploads import UploadRefused, upload_into_thread

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
MAX_BACKOFF = timedelta(seconds=60)
# This many retryable failures in a row, across incidents, mean Slack itself is down: the
# channel waits (backing off) instead of trying every incident's row in turn.
OUTAGE_FAILURES = 3
# A row Slack keeps answering with a retryable error is given up after this many attempts
# once Slack has taken other rows since it was queued (the fault is the row's), and in any
# case this long after it was queued.
MAX_ATTEMPTS = 5
GIVE_UP_AFTER = timedelta(hours=24)
# Thread replies that waited longer than this are folded into one "missed" reply.
STALE_AFTER = timedelta(hours=1)
# A digest's chart is a nice-to-have: after this many failed tries it is given up.
CHART_ATTEMPTS = 3
# How often the loop looks at the outbox when nothing wakes it (real time).
POLL_SECONDS = 1.0


@dataclass
class ChannelState:
    """What the notifier knows about one channel."""

    # not called again before this (pacing, a 429's Retry-After, back-off after an outage)
    not_before: datetime | None = None
    failures: int = 0  # consecutive retryable failures, for back-off
    blocked: str | None = None  # a permanent error; cleared only by a restart
    delivered_at: datetime | None = None  # when Slack last took a row

    def waiting(self, now: datetime) -> bool:
        """Whether this channel must not be called yet."""
        return self.not_before is not None and self.not_before > now

    def hold_until(self, moment: datetime) -> None:
        """Call it no earlier than `moment` (a later hold wins)."""
        if self.not_before is None or moment > self.not_before:
            self.not_before = moment


@dataclass
class DeliveryReport:
    """One pass over the outbox."""

    sent: int = 0
    held: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    # the earliest moment a held row may go out (None: nothing is waiting on time)
    retry_at: datetime | None = None

    def retry_no_earlier_than(self, moment: datetime | None) -> None:
        """Note a moment something held becomes sendable."""
        if moment is not None and (self.retry_at is None or moment < self.retry_at):
            self.retry_at = moment


class Notifier:
    """Renders queued incident messages with the alert builders and delivers them."""

    def __init__(
        self,
        incidents: IncidentRepository,
        client: AsyncWebClient,
        registry: Registry,
        clock: Clock,
        *,
        may_send: Callable[[datetime], bool],
        mask_customer_id: bool = True,
        pace_seconds: float = 1.0,
        language: Language = DEFAULT_LANGUAGE,
        oncall: tuple[str, ...] = (),
    ) -> None:
        self.incidents = incidents
        self.client = client
        self.registry = registry
        self.clock = clock
        # whether this process may post now (it holds the monitor's lease, with a margin)
        self.may_send = may_send
        self.mask = mask_customer_id
        # BOT_LANGUAGE: the ops channel reads alerts in one language, whoever caused them.
        self.language = language
        # ONCALL_MENTION: told of incidents that stop all sales, and of every escalation
        self.oncall = oncall
        self.pace = timedelta(seconds=pace_seconds)
        self.channels: dict[str, ChannelState] = {}
        # an incident whose row failed waits (backing off) without holding back the others
        self.incident_holds: dict[int, datetime] = {}
        # Since this process started sending, or since Slack last failed, until a pass that
        # left nothing behind: replies that waited over an hour meanwhile are folded.
        self.catching_up = True
        self._wake = asyncio.Event()
        # delivery passes finished since the start (what a test waits on, not a guess)
        self.passes = 0

    @property
    def blocked(self) -> dict[str, str]:
        """Channels whose deliveries stopped on a permanent error, with the error."""
        return {name: state.blocked for name, state in self.channels.items() if state.blocked}

    def wake(self) -> None:
        """Something new is queued: deliver now rather than at the next poll."""
        self._wake.set()

    async def run(self, stopping: asyncio.Event) -> None:
        """Deliver until `stopping` is set: at once when woken, when a held row's time
        comes, and every POLL_SECONDS anyway."""
        while not stopping.is_set():
            self._wake.clear()
            retry_at = None
            try:
                retry_at = (await self.deliver()).retry_at
            except Exception:
                log.exception("outbox delivery pass failed; retrying")
            self.passes += 1
            await self._wait(stopping, retry_at)

    async def _wait(self, stopping: asyncio.Event, retry_at: datetime | None) -> None:
        waits: list[Work] = [self._wake.wait(), stopping.wait()]
        if retry_at is not None:
            waits.append(self.clock.sleep((retry_at - self.clock.now()).total_seconds()))
        tasks = [asyncio.ensure_future(wait) for wait in waits]
        try:
            await asyncio.wait(tasks, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)

    async def deliver(self, limit: int = 100) -> DeliveryReport:
        """One pass: send every row that may go now, in order; a held row holds back its
        incident's later rows, so a thread never shows a reply before its parent."""
        report = DeliveryReport()
        start = self.clock.now()
        if not self.may_send(start):
            return report
        if self.catching_up:
            stale = start - STALE_AFTER
            folded = await asyncio.to_thread(self.incidents.summarise_stale, start, stale)
            if folded:
                log.warning("%d thread repl(ies) older than an hour folded into one each", folded)
        items = await self._urgent_first(await asyncio.to_thread(self.incidents.due, limit))
        held: set[int] = set()
        later_edit = _later_edits(items)
        for item in items:
            now = self.clock.now()
            channel = self.channels.setdefault(item.channel, ChannelState())
            if item.incident_id in held or channel.blocked:
                held.add(item.incident_id)
                report.held += 1
                continue
            hold = self.incident_holds.get(item.incident_id)
            if hold is not None and hold > now:
                held.add(item.incident_id)
                report.held += 1
                report.retry_no_earlier_than(hold)
                continue
            if item.intent is None:
                await self._fail(item, item.problem or "unreadable outbox row", report)
                continue
            if channel.waiting(now):
                held.add(item.incident_id)
                report.held += 1
                report.retry_no_earlier_than(channel.not_before)
                continue
            if isinstance(item.intent, UpdateParent) and item.id in later_edit:
                # A later edit of the same parent will show the same, newer state.
                await self._supersede(item)
                continue
            try:
                incident = await asyncio.to_thread(self.incidents.get, item.incident_id)
                if incident is None:
                    await self._supersede(item)
                    continue
                with language(self.language):
                    message = alert_message(
                        item.intent,
                        incident,
                        now,
                        self.registry,
                        mask=self.mask,
                        oncall=self.oncall,
                    )
            except Exception as exc:
                log.exception("could not render outbox row %s", item.id)
                await self._fail(item, f"could not render: {exc.__class__.__name__}", report)
                continue
            if not isinstance(item.intent, PostParent) and incident.parent_ts is None:
                if isinstance(item.intent, UpdateParent):
                    # Not posted (yet): when it is, it shows the state of that moment.
                    await self._supersede(item)
                else:
                    held.add(item.incident_id)  # its parent is not posted yet
                    report.held += 1
                continue
            if not self.may_send(now):
                break  # the lease is running out: whoever takes over sends the rest
            if not await self._send(item, incident, message, channel, report):
                held.add(item.incident_id)
                # it may go again once both its channel and its incident have waited
                waits = [channel.not_before, self.incident_holds.get(item.incident_id)]
                report.retry_no_earlier_than(max((w for w in waits if w), default=None))
        if report.errors:
            self.catching_up = True
        elif not report.held and len(items) < limit:
            self.catching_up = False
        return report

    async def _urgent_first(self, items: list[OutboxItem]) -> list[OutboxItem]:
        """The rows in order, except that a parent saying every sale fails goes before
        everything else (after an outage, before the stale replies of older incidents)."""
        parents = [item for item in items if isinstance(item.intent, PostParent)]
        if not parents:
            return items
        urgent = set()
        for item in parents:
            incident = await asyncio.to_thread(self.incidents.get, item.incident_id)
            if incident is not None and incident.is_open and incident.details.sales_stopped():
                urgent.add(item.id)
        if not urgent:
            return items
        return [item for item in items if item.id in urgent] + [
            item for item in items if item.id not in urgent
        ]

    async def _send(
        self,
        item: OutboxItem,
        incident: Incident,
        message: Message,
        channel: ChannelState,
        report: DeliveryReport,
    ) -> bool:
        """Deliver one rendered row; False when it stays queued (held back)."""
        if isinstance(item.intent, ThreadReply) and isinstance(item.intent.reply, DigestChart):
            return await self._send_chart(item, incident, channel, report)
        try:
            response = await self._call(item, incident, message)
        except SlackApiError as exc:
            answer = exc.response
            return await self._failed(
                item, channel, answer.status_code, answer.get("error"), answer.headers, report
            )
        except Exception as exc:  # network: refused, reset, timeout, unreadable answer
            reason = f"{exc.__class__.__name__}: {exc}"
            return await self._failed(item, channel, None, reason, {}, report)
        finally:
            channel.hold_until(self.clock.now() + self.pace)
        channel.failures = 0
        channel.delivered_at = self.clock.now()
        self.incident_holds.pop(item.incident_id, None)
        await asyncio.to_thread(
            self.incidents.sent,
            item,
            self.clock.now(),
            channel=str(response.get("channel") or item.channel),
            ts=str(response.get("ts") or ""),
        )
        report.sent += 1
        return True

    async def _send_chart(
        self,
        item: OutboxItem,
        incident: Incident,
        channel: ChannelState,
        report: DeliveryReport,
    ) -> bool:
        """Draw the digest's chart and upload it into the digest's thread; False when it
        stays queued. The digest is already posted: a chart that cannot go up is given up
        after a few tries, never held against the alerts behind it."""
        details = incident.details
        assert isinstance(details, DigestDetails)
        title = chart_title(details)
        try:
            picture = await asyncio.to_thread(hourly_chart, details, title)
        except Exception as exc:
            log.exception("could not draw the digest's chart")
            await self._fail(item, f"chart not drawn: {exc.__class__.__name__}", report)
            return True
        try:
            await upload_into_thread(
                self.client,
                channel=incident.channel or item.channel,
                thread_ts=incident.parent_ts,
                filename=f"digest-{details.day.isoformat()}.png",
                title=title,
                content=picture,
            )
        except Exception as exc:
            status, error, headers = _failure_of(exc)
            if error in PERMANENT_ERRORS or item.attempts + 1 >= CHART_ATTEMPTS:
                await self._fail(item, f"chart not uploaded: {error or status}", report)
                return True
            return await self._failed(item, channel, status, error, headers, report)
        finally:
            channel.hold_until(self.clock.now() + self.pace)
        await asyncio.to_thread(
            self.incidents.sent, item, self.clock.now(), channel=item.channel, ts=""
        )
        report.sent += 1
        return True

    async def _call(self, item: OutboxItem, incident: Incident, message: Message) -> Any:
        intent = item.intent
        if isinstance(intent, PostParent):
            return await self.client.chat_postMessage(
                channel=item.channel, text=message["text"], blocks=message["blocks"]
            )
        if isinstance(intent, UpdateParent):
            return await self.client.chat_update(
                channel=incident.channel or item.channel,
                ts=incident.parent_ts or "",
                text=message["text"],
                blocks=message["blocks"],
            )
        assert isinstance(intent, ThreadReply)
        # Once someone has acknowledged the incident, the channel is no longer pinged.
        broadcast = intent.broadcast and incident.acknowledged_by is None
        return await self.client.chat_postMessage(
            channel=incident.channel or item.channel,
            thread_ts=incident.parent_ts,
            reply_broadcast=broadcast,
            text=message["text"],
            blocks=message["blocks"],
        )

    async def _failed(
        self,
        item: OutboxItem,
        channel: ChannelState,
        status: int | None,
        error: object,
        headers: JsonView | None,
        report: DeliveryReport,
    ) -> bool:
        reason = str(error or f"HTTP {status}")
        report.errors.append(reason)
        now = self.clock.now()
        if status == 429 or error == "ratelimited":
            retry_after = _retry_after(headers)
            channel.hold_until(now + retry_after)
            await asyncio.to_thread(self.incidents.attempt_failed, item.id, reason)
            log.warning(
                "Slack rate limit on %s: waiting %.0f s as told",
                item.channel,
                retry_after.total_seconds(),
            )
            return False
        if isinstance(error, str) and error in PERMANENT_ERRORS:
            channel.blocked = error
            await asyncio.to_thread(self.incidents.attempt_failed, item.id, reason)
            log.error(
                "ALERTS STOPPED for channel %s: Slack says %s. Fix it (invite the bot, check "
                "SLACK_BOT_TOKEN and OPS_CHANNEL) and restart; the alerts wait in the outbox.",
                item.channel,
                error,
            )
            return False
        if status is None or status >= 500 or error in RETRYABLE_ERRORS:
            attempts = item.attempts + 1
            delivered = channel.delivered_at
            if (
                attempts >= MAX_ATTEMPTS and delivered is not None and delivered > item.created_at
            ) or now - item.created_at >= GIVE_UP_AFTER:
                # Slack takes other rows but never this one (or a day went by): drop it,
                # so it holds nothing back.
                await self._fail(
                    item, f"given up after {attempts} attempts: {reason}", report, given_up=True
                )
                return True
            channel.failures += 1
            backoff = min(timedelta(seconds=2 ** (attempts - 1)), MAX_BACKOFF)
            self.incident_holds[item.incident_id] = now + backoff
            if channel.failures >= OUTAGE_FAILURES:
                # Several incidents' rows in a row: Slack itself is down, the channel waits.
                outage = channel.failures - OUTAGE_FAILURES
                channel.hold_until(now + min(timedelta(seconds=2**outage), MAX_BACKOFF))
            await asyncio.to_thread(self.incidents.attempt_failed, item.id, reason)
            log.warning(
                "Slack unavailable (%s); retrying outbox row %s in %.0f s",
                reason,
                item.id,
                backoff.total_seconds(),
            )
            return False
        # Anything else (invalid_blocks, msg_too_long...) is about this row: retrying cannot
        # help, and holding the incident back forever would lose everything after it.
        await self._fail(item, f"Slack refused it: {reason}", report)
        return True

    async def _fail(
        self, item: OutboxItem, reason: str, report: DeliveryReport, *, given_up: bool = False
    ) -> None:
        """The row is undeliverable for good: marked failed or given up (with its thread,
        if it is a parent), logged, and counted by /healthz."""
        failed = await asyncio.to_thread(
            self.incidents.failed_for_good, item, reason, self.clock.now(), given_up=given_up
        )
        report.failed += failed
        log.error(
            "outbox row %s (%s of incident %s) failed for good: %s%s",
            item.id,
            item.action.value,
            item.incident_id,
            reason,
            f"; {failed - 1} queued row(s) of its thread with it" if failed > 1 else "",
        )

    async def _supersede(self, item: OutboxItem) -> None:
        await asyncio.to_thread(self.incidents.superseded, item.id, self.clock.now())


def _failure_of(exc: Exception) -> tuple[int | None, str, Any]:
    """A failed call's HTTP status, error and headers, as `Notifier._failed` takes them."""
    if isinstance(exc, SlackApiError):
        answer = exc.response
        return answer.status_code, str(answer.get("error") or ""), answer.headers
    if isinstance(exc, UploadRefused):
        return exc.status, f"HTTP {exc.status}", {}
    return None, f"{exc.__class__.__name__}: {exc}", {}


def _later_edits(items: list[OutboxItem]) -> set[int]:
    """Edits of a parent that a later edit of the same parent makes pointless."""
    last: dict[int, int] = {}
    for item in items:
        if isinstance(item.intent, UpdateParent):
            last[item.incident_id] = item.id
    return {
        item.id
        for item in items
        if isinstance(item.intent, UpdateParent) and last[item.incident_id] != item.id
    }


def _retry_after(headers: JsonView | None) -> timedelta:
    value = None
    if headers:
        for key in ("Retry-After", "retry-after"):
            found = headers.get(key)
            if found:
                value = found[0] if isinstance(found, list) else found
                break
    try:
        seconds = max(float(value), 1.0) if value is not None else 1.0
    except ValueError:
        seconds = 1.0
    return timedelta(seconds=seconds)
