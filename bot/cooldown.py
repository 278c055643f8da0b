"""A button nobody can turn into a flood: one go per person per period."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.clock import Clock

# Past this many people remembered, the ones whose period is over are forgotten.
_PRUNE_AT = 1000

# One live check at IAK (/iak status, /iak balance, Recheck) per person this often: enough
# to follow a transaction, not to flood IAK.
CHECK_COOLDOWN = timedelta(seconds=10)


class Cooldown:
    """Lets each key (a person, usually) act once per `period`, on the injected clock."""

    def __init__(self, clock: Clock, period: timedelta) -> None:
        self.clock = clock
        self.period = period
        self._last: dict[str, datetime] = {}

    def wait_left(self, key: str) -> timedelta | None:
        """None, and the go is counted, when `key` may act now; else how long it must wait."""
        now = self.clock.now()
        last = self._last.get(key)
        if last is not None and now - last < self.period:
            return self.period - (now - last)
        if len(self._last) >= _PRUNE_AT:
            self._last = {k: t for k, t in self._last.items() if now - t < self.period}
        self._last[key] = now
        return None
