"""The monitor and the notifier that delivers its outbox, as one unit every entry point runs
(serve, socket, monitor), and what /healthz says about them."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.monitor.decisions import MonitorConfig
from bot.monitor.loop import Monitor
from bot.services import Services
from bot.slack.notifier import Notifier


@dataclass
class Alerting:
    """The monitor and the notifier that delivers its outbox, run as two tasks."""

    monitor: Monitor
    notifier: Notifier
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def wake(self) -> None:
        """Deliver queued alerts now (a button queued some) rather than at the next poll."""
        self.notifier.wake()

    def start(self) -> None:
        """Start ticking and delivering."""
        self._tasks = [
            asyncio.create_task(self.monitor.run(), name="monitor"),
            asyncio.create_task(
                self.notifier.run(lambda: self.monitor.is_leader, self._stopping),
                name="notifier",
            ),
        ]

    async def stop(self, grace_seconds: float) -> None:
        """Stop ticking, send what is already queued (within the grace period), release
        the lease so another process takes over at once."""
        was_leader = self.monitor.is_leader
        await self.monitor.stop()
        self._stopping.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if was_leader:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.notifier.deliver(), grace_seconds)


def build_alerting(services: Services, *, slack_pace_seconds: float = 1.0) -> Alerting | None:
    """The monitor and its notifier, or None without OPS_CHANNEL (nowhere to alert)."""
    settings = services.settings
    if not settings.ops_channel or not settings.slack_bot_token:
        return None
    # Our own retry policy (the notifier's); slack_sdk's would retry behind its back.
    client = AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[],
    )
    notifier = Notifier(
        services.incidents,
        client,
        services.registry,
        services.clock,
        mask_customer_id=settings.mask_customer_id,
        pace_seconds=slack_pace_seconds,
    )
    monitor = Monitor(
        database=services.database,
        incidents=services.incidents,
        registry=services.registry,
        clock=services.clock,
        config=MonitorConfig.from_settings(settings),
        channel=settings.ops_channel,
        iak=services.iak,
        on_queued=notifier.wake,
    )
    return Alerting(monitor, notifier)


def health_report(services: Services, alerting: Alerting | None) -> dict[str, Any]:
    """What /healthz tells beyond the database: the monitor, the outbox, Slack errors."""
    now = services.clock.now()
    leader = services.incidents.leader()
    backlog = services.incidents.backlog()
    report: dict[str, Any] = {
        "monitor": {
            "enabled": alerting is not None and services.settings.monitor_enabled,
            "this_process_leads": bool(alerting and alerting.monitor.is_leader),
            "leader": leader.holder if leader and leader.expires_at > now else None,
            "last_tick_at": leader.last_tick_at.isoformat()
            if leader and leader.last_tick_at
            else None,
            "last_tick_age_seconds": round((now - leader.last_tick_at).total_seconds(), 1)
            if leader and leader.last_tick_at
            else None,
        },
        "outbox": {
            "backlog": backlog.count,
            "oldest_undelivered_age_seconds": round(
                (now - backlog.oldest_created_at).total_seconds(), 1
            )
            if backlog.oldest_created_at
            else None,
        },
        "slack_errors": dict(alerting.notifier.blocked) if alerting else {},
    }
    return report
