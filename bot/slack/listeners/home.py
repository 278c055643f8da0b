"""The App Home tab: a dashboard published when someone opens it."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.health import health_report
from bot.i18n import N_
from bot.services import Services
from bot.shapes import Json
from bot.slack.access import AccessPolicy
from bot.slack.blocks.home import HomeSnapshot, home_refused, home_view
from bot.store import reports

if TYPE_CHECKING:
    from bot.slack.alerts.alerting import Alerting

log = logging.getLogger(__name__)

# The labels are translated where the dashboard shows them.
AGE_BANDS = (
    (N_("under 15 min"), timedelta(minutes=15)),
    (N_("15 min to 1 h"), timedelta(hours=1)),
    (N_("1 to 6 h"), timedelta(hours=6)),
    (N_("6 to 24 h"), timedelta(hours=24)),
)
OLDEST_BAND = N_("over 24 h")


class HomeTab:
    """Reads the store and publishes the dashboard (after the event is acked)."""

    def __init__(self, services: Services, alerting: Alerting | None) -> None:
        self.services = services
        self.alerting = alerting
        self.policy = AccessPolicy.from_settings(services.settings)

    async def opened(self, event: Json, client: AsyncWebClient) -> None:
        """`app_home_opened`: Slack needs the event acked within 3 s, so the reading and
        publishing run in the background."""
        if event.get("tab") not in (None, "home"):
            return
        user = str(event.get("user", ""))
        if not user:
            return
        self.services.background.spawn(self.publish(user, client), name="home-tab")

    async def publish(self, user: str, client: AsyncWebClient) -> None:
        """Build and publish one person's Home tab."""
        # Someone of another workspace (a Slack Connect guest) sees no data either.
        if not self.policy.allows_home(user) or not await self.services.workspace.has_member(user):
            view = home_refused()
        else:
            snapshot = await self.services.database.read(self.snapshot)
            view = home_view(snapshot, self.services.registry)
        await client.views_publish(user_id=user, view=view)

    def snapshot(self) -> HomeSnapshot:
        """Everything the dashboard shows (runs in a worker thread)."""
        services = self.services
        now = services.clock.now()
        with services.database.engine.connect() as connection:
            bands = reports.pending_by_age(connection, now, [edge for __, edge in AGE_BANDS])
            balance = reports.latest_balance(connection)
            failures = reports.failures_by_rc(connection, now - timedelta(hours=24))
        labels = [label for label, __ in AGE_BANDS] + [OLDEST_BAND]
        return HomeSnapshot(
            now=now,
            incidents=services.incidents.open_incidents(),
            pending_by_age=list(zip(labels, bands, strict=True)),
            failures_24h=failures,
            balance=balance[0] if balance else None,
            balance_at=balance[1] if balance else None,
            low_balance_threshold=services.settings.low_balance_threshold,
            health=health_report(services, self.alerting),
        )


def register(app: AsyncApp, services: Services, alerting: Alerting | None) -> None:
    """Wire the Home tab."""
    app.event("app_home_opened")(HomeTab(services, alerting).opened)
