"""IAK's scheduled windows: times when a code's documented cause is the schedule itself, so
failures with it then are expected, not an outage.

IAK documents one: postpaid `109` SYSTEM CUT OFF, "PLN product code cannot receive a
request at 11PM until 1AM (GMT +7)". Its prepaid table names no cut-off code, so prepaid
PLN failures in those hours are judged as any others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from bot.clock import WIB
from bot.i18n import N_


@dataclass(frozen=True)
class KnownWindow:
    """A daily window (WIB) in which failures with these codes, for products whose code
    starts with one of these prefixes, are expected."""

    name: str  # marked with N_: pass it through `_` where it is shown
    rcs: frozenset[str]
    product_prefixes: tuple[str, ...]
    start: time  # WIB
    end: time  # WIB; before `start`: the window runs past midnight

    def covers(self, rc: str | None, product_code: str | None, at: datetime) -> bool:
        """Whether a failure with `rc`, of that product, at that time, is expected."""
        if rc not in self.rcs or not self.for_product(product_code):
            return False
        return any(start <= at < end for start, end in self.occurrences(at, at))

    def for_product(self, product_code: str | None) -> bool:
        """Whether the window concerns that product."""
        code = (product_code or "").strip().lower()
        return code.startswith(self.product_prefixes)

    def occurrences(self, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
        """The window's occurrences [start, end) in UTC that overlap [since, until]."""
        first = since.astimezone(WIB).date() - timedelta(days=1)
        last = until.astimezone(WIB).date()
        found = []
        day = first
        while day <= last:
            start = datetime.combine(day, self.start, WIB)
            end_day = day + timedelta(days=1) if self.end <= self.start else day
            end = datetime.combine(end_day, self.end, WIB)
            if start <= until and end > since:
                found.append((start.astimezone(UTC), end.astimezone(UTC)))
            day += timedelta(days=1)
        return found


PLN_CUTOFF = KnownWindow(
    name=N_("in the PLN cut-off"),
    rcs=frozenset({"109"}),
    product_prefixes=("pln",),
    start=time(23, 0),
    end=time(1, 0),
)
KNOWN_WINDOWS = (PLN_CUTOFF,)
