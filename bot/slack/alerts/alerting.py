"""The monitor and the notifier that delivers its outbox, as one unit every entry point runs
(serve, socket, monitor)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.incidents.config import MonitorConfig
from bot.incidents.tick import Monitor
from bot.services import Services
from bot.slack.alerts.notifier import Notifier

log = logging.getLogger(__name__)

# The longest a Slack call may take before it counts as failed (and is retried).
SLACK_TIMEOUT = timedelta(seconds=10)


@dataclass
class Alerting:
    """The monitor and the notifier that delivers its outbox, run as two tasks."""

    monitor: Monitor
    notifier: Notifier
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def leads(self) -> bool:
        """Whether this process holds the monitor's lease."""
        return self.monitor.is_leader

    @property
    def slack_errors(self) -> dict[str, str]:
        """Channels Slack refuses alerts to, and why."""
        return dict(self.notifier.blocked)

    def wake(self) -> None:
        """Deliver queued alerts now (a button queued some) rather than at the next poll."""
        self.notifier.wake()

    def start(self) -> None:
        """Start ticking and delivering."""
        self._tasks = [
            asyncio.create_task(self.monitor.run(), name="monitor"),
            asyncio.create_task(self.notifier.run(self._stopping), name="notifier"),
        ]

    async def stop(self, grace_seconds: float) -> None:
        """Stop deciding, deliver what is already queued (within the grace period) while
        still holding the lease, then release it so another process takes over at once.

        In that order, no other process can post a row this one is still delivering.
        """
        await self.monitor.stop_ticking()
        self._stopping.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drain(), grace_seconds)
        await self.monitor.release()

    async def _drain(self) -> None:
        """Deliver until the outbox is empty or only rows that cannot go out are left."""
        clock = self.notifier.clock
        while True:
            report = await self.notifier.deliver()
            if report.sent or report.failed:
                continue
            if report.retry_at is None:
                if report.held:
                    log.warning("%d alert(s) left in the outbox for the next leader", report.held)
                return
            await clock.sleep((report.retry_at - clock.now()).total_seconds())


def build_alerting(services: Services, *, slack_pace_seconds: float = 1.0) -> Alerting | None:
    """The monitor and its notifier, or None without OPS_CHANNEL (nowhere to alert)."""
    settings = services.settings
    if not settings.ops_channel or not settings.slack_bot_token:
        return None
    monitor = Monitor(
        database=services.database,
        incidents=services.incidents,
        registry=services.registry,
        clock=services.clock,
        config=MonitorConfig.from_settings(settings),
        channel=settings.ops_channel,
        iak=services.iak,
        metrics=services.metrics,
        price_lists=services.price_lists,
    )
    # A row goes out only while this process keeps the lease for a third of it more, and a
    # Slack call never outlasts that margin: no other process can take over and post the
    # same row while this one is still posting it.
    margin = monitor.lease_ttl / 3
    # Our own retry policy (the notifier's); slack_sdk's would retry behind its back.
    client = AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=int(min(SLACK_TIMEOUT, margin).total_seconds()) or 1,
        retry_handlers=[],
    )
    notifier = Notifier(
        services.incidents,
        client,
        services.registry,
        services.clock,
        may_send=lambda now: monitor.holds_lease(now, margin),
        mask_customer_id=settings.mask_customer_id,
        pace_seconds=slack_pace_seconds,
        language=settings.bot_language,
        oncall=tuple(settings.oncall_mention),
    )
    monitor.on_lead = notifier.wake
    return Alerting(monitor, notifier)
