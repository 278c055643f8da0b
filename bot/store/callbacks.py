"""Callbacks refused, counted where they are refused and written a burst at a time.

Every process refuses callbacks on its own; the monitor, in whichever process holds the
lease, judges them all. So each process counts its refusals in memory and writes what it
counted about once a second at most, as one row per reason: a flood of bad requests costs
one small write a second, not one per request, and the accepted callbacks' fast path
costs nothing at all.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert
from sqlalchemy.exc import SQLAlchemyError

from bot.outcomes import Refusal
from bot.store.schema import callback_refusals

log = logging.getLogger(__name__)

# How long a burst of refusals is gathered before it is written (real time: it only
# batches writes; what is written carries the injected clock's times).
FLUSH_DELAY_SECONDS = 1.0


@dataclass
class _Tally:
    count: int
    first_at: datetime
    last_at: datetime
    address: str | None
    detail: str | None


class CallbackRefusals:
    """Counts this process's refused callbacks and writes them for the monitor to see."""

    def __init__(self, engine: Engine, *, delay_seconds: float = FLUSH_DELAY_SECONDS) -> None:
        self.engine = engine
        self.delay = delay_seconds
        self._tallies: dict[Refusal, _Tally] = {}
        self._writing: asyncio.Task[None] | None = None

    def note(
        self, reason: Refusal, at: datetime, *, address: str | None, detail: str | None
    ) -> None:
        """Count one refusal; it is written within about a second (on the running loop)."""
        tally = self._tallies.get(reason)
        if tally is None:
            self._tallies[reason] = _Tally(1, at, at, address, detail)
        else:
            tally.count += 1
            tally.last_at = max(tally.last_at, at)
            tally.address, tally.detail = address, detail
        if self._writing is None or self._writing.done():
            self._writing = asyncio.get_running_loop().create_task(
                self._write_soon(), name="callback-refusals"
            )

    async def _write_soon(self) -> None:
        await asyncio.sleep(self.delay)
        await self.flush()

    async def flush(self) -> None:
        """Write what was counted so far (at shutdown too)."""
        tallies, self._tallies = self._tallies, {}
        if not tallies:
            return
        rows = [
            {
                "reason": reason.value,
                "count": tally.count,
                "first_at": tally.first_at,
                "last_at": tally.last_at,
                "address": tally.address[:45] if tally.address else None,
                "detail": tally.detail[:200] if tally.detail else None,
            }
            for reason, tally in tallies.items()
        ]
        try:
            await asyncio.to_thread(self._insert, rows)
        except SQLAlchemyError as exc:
            # The database is down: the same outage is reported loudly elsewhere; these
            # counts only feed an alert, so they are not worth holding on to.
            log.warning("%d refused callback(s) not recorded: %s", len(rows), exc)

    async def close(self) -> None:
        """Stop waiting and write what is left."""
        if self._writing is not None and not self._writing.done():
            self._writing.cancel()
            await asyncio.gather(self._writing, return_exceptions=True)
        await self.flush()

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        with self.engine.connect().execution_options(write=True) as connection, connection.begin():
            connection.execute(insert(callback_refusals), rows)
