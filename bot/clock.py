"""Time, injected: the system clock in production, a fake one that tests advance."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Protocol

from babel.dates import format_datetime

from bot.i18n import babel_locale


class Clock(Protocol):
    """Where the current time comes from, and how to wait for it to pass."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once `seconds` have passed on this clock."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of real time."""
        await asyncio.sleep(max(seconds, 0))


# Ops in Indonesia live in Western Indonesia Time, which has no daylight saving.
WIB = timezone(timedelta(hours=7), "WIB")


def wib_day(day: date) -> tuple[datetime, datetime]:
    """The WIB calendar day as the UTC moments [start, end) it spans."""
    start = datetime.combine(day, time(), WIB).astimezone(UTC)
    return start, start + timedelta(days=1)


def wib_time(moment: datetime) -> str:
    """`14:05 WIB`: a moment as ops read it, in Jakarta time."""
    return moment.astimezone(WIB).strftime("%H:%M WIB")


def wib_moment(moment: datetime, *, with_year: bool = False) -> str:
    """`28 Nov 14:05 WIB` (`28 Agu 14:05 WIB` in Indonesian; `28 Nov 2026 14:05 WIB` with
    the year): the month in the reader's language, always with the zone."""
    pattern = "d MMM y HH:mm" if with_year else "d MMM HH:mm"
    day = format_datetime(moment.astimezone(WIB), pattern, locale=babel_locale())
    return f"{day} WIB"
