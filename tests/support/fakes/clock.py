"""A clock tests move by hand, so the monitor's decisions and the notifier's waits (pacing,
Retry-After, back-off) are driven without waiting for them."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from datetime import UTC, datetime, timedelta


class FakeClock:
    """Starts at a fixed moment; `advance` moves it and wakes whoever sleeps past the new time.

    A `running` clock also moves with real time, as the system clock does, so a bot under
    test keeps ticking on its own while the test jumps ahead through minutes it would rather
    not wait for. Safe to use from any thread and any event loop.
    """

    def __init__(self, start: datetime | None = None, *, running: bool = False) -> None:
        self._start = start or datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
        self._skipped = timedelta()
        self._began = time.monotonic()
        self.running = running
        self._lock = threading.Lock()
        self._sleepers: list[tuple[datetime, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now()

    def _now(self) -> datetime:
        flowed = timedelta(seconds=time.monotonic() - self._began) if self.running else timedelta()
        return self._start + self._skipped + flowed

    async def sleep(self, seconds: float) -> None:
        """Return once `seconds` have passed on this clock (at once if not positive)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            until = self._now() + timedelta(seconds=seconds)
        while True:
            future: asyncio.Future[None] = loop.create_future()
            with self._lock:
                remaining = (until - self._now()).total_seconds()
                if remaining <= 0:
                    return
                self._sleepers.append((until, loop, future))
            try:
                await asyncio.wait({future}, timeout=remaining if self.running else None)
            finally:
                with self._lock:
                    self._sleepers = [s for s in self._sleepers if s[2] is not future]

    def advance(self, **delta: float) -> datetime:
        """Move forward by a timedelta's keywords (seconds=..., minutes=...)."""
        with self._lock:
            self._skipped += timedelta(**delta)
            now = self._now()
            due = [(loop, future) for until, loop, future in self._sleepers if until <= now]
        for loop, future in due:
            # RuntimeError: that loop has closed, so nobody is sleeping there any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_wake, future)
        return now


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
