"""`/iak pending` and `/iak stats` answers, and the pending list's page buttons.

Everything here reads the store through `Database.read`, in a worker thread, so a slow
query never holds up the event loop (and with it every other Slack request).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from slack_bolt.async_app import AsyncAck, AsyncRespond
from sqlalchemy.exc import SQLAlchemyError

from bot.i18n import N_
from bot.incidents.kinds.handover import handover_now
from bot.services import Services
from bot.shapes import Json
from bot.slack.alerts.kinds.handover import handover_message
from bot.slack.blocks.reports import (
    PENDING_PREVIOUS_ACTION,
    pending_card,
    stats_card,
    store_unavailable,
)
from bot.slack.blocks.text import Message
from bot.slack.interactions import Click, answer_later, post_later
from bot.store import reports
from bot.store.reports import PendingCursor, TimeBuckets

log = logging.getLogger(__name__)

PENDING_WHAT = N_("the pending transactions")
STATS_WHAT = N_("the transaction stats")
HANDOVER_WHAT = N_("the shift handover")


@dataclass(frozen=True)
class StatsWindow:
    """One window `/iak stats` accepts: how far back, and how many sparkline buckets."""

    label: str
    span: timedelta
    buckets: int


# 5-minute, hourly and 6-hourly buckets: each line reads at a glance, and a spike shows
# as the one tall bar it is.
STATS_WINDOWS = {
    "1h": StatsWindow("1 h", timedelta(hours=1), 12),
    "24h": StatsWindow("24 h", timedelta(hours=24), 24),
    "7d": StatsWindow("7 d", timedelta(days=7), 28),
}
DEFAULT_STATS_WINDOW = "24h"


def parse_stats_window(text: str) -> StatsWindow | None:
    """`1h`, `24h` (also empty) or `7d`, case and spaces aside; None for anything else."""
    key = "".join(text.split()).lower() or DEFAULT_STATS_WINDOW
    return STATS_WINDOWS.get(key)


class TransactionReports:
    """Builds the pending and stats answers from the store."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def pending(
        self, *, after: PendingCursor | None = None, before: PendingCursor | None = None
    ) -> Message:
        """A page of the pending list (the first unless a cursor says which)."""
        try:
            database = self.services.database
            page = await database.read(
                reports.on, database.engine, reports.pending_page, after=after, before=before
            )
        except SQLAlchemyError:
            log.exception("could not read the pending transactions")
            return store_unavailable(PENDING_WHAT)
        return pending_card(page, now=self.services.clock.now())

    async def stats(self, window: StatsWindow) -> Message:
        """Outcomes and top failure codes over the window up to now."""
        buckets = TimeBuckets.ending(self.services.clock.now(), window.span, window.buckets)
        try:
            database = self.services.database
            stats = await database.read(reports.on, database.engine, reports.window_stats, buckets)
        except SQLAlchemyError:
            log.exception("could not read the transaction stats")
            return store_unavailable(STATS_WHAT)
        return stats_card(stats, self.services.registry, label=window.label)

    async def handover(self) -> Message:
        """The shift handover as of now."""
        services = self.services
        age_out = timedelta(seconds=services.settings.pending_age_out_seconds)
        try:
            details = await services.database.read(
                handover_now,
                services.database.engine,
                services.incidents,
                services.clock.now(),
                age_out,
            )
        except SQLAlchemyError:
            log.exception("could not read the shift handover")
            return store_unavailable(HANDOVER_WHAT)
        return handover_message(details, services.registry)

    async def page(self, ack: AsyncAck, body: Json, respond: AsyncRespond) -> None:
        """Next page / Previous page: the neighbouring page replaces the list."""
        await ack()
        click = Click.of(body)
        cursor = PendingCursor.decode(click.value)
        if cursor is None:
            return
        backwards = click.action_id == PENDING_PREVIOUS_ACTION
        answer_later(
            self.services.background,
            respond,
            self._replace_page(cursor, backwards, respond),
            what="pending page",
        )

    async def _replace_page(
        self, cursor: PendingCursor, backwards: bool, respond: AsyncRespond
    ) -> None:
        if backwards:
            message = await self.pending(before=cursor)
        else:
            message = await self.pending(after=cursor)
        await post_later(respond, message, replace_original=True, what="pending page")
