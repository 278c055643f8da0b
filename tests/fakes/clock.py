"""A clock tests move by hand, so the monitor's decisions can be driven without sleeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class FakeClock:
    """Starts at a fixed moment; `advance` moves it. Safe to read from any thread."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> datetime:
        """Move forward by a timedelta's keywords (seconds=..., minutes=...)."""
        with self._lock:
            self._now += timedelta(**delta)
            return self._now
