"""Callbacks refused, counted where they are refused and written a burst at a time.

Every process refuses callbacks on its own; the monitor, in whichever process holds the
lease, judges them all. Only refusals plausibly IAK's are counted here: from an address
IAK's or ours (the intake decides), or naming a ref_id already stored (decided here, in one
statement per write, off the request's path). Each process counts them in memory and writes
what it counted about once a second at most, as one row per reason: a flood of bad requests costs
one small write a second, not one per request, and the accepted callbacks' fast path
costs nothing at all.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from bot.outcomes import Refusal
from bot.store.schema import callback_refusals, transactions

log = logging.getLogger(__name__)

# How long a burst of refusals is gathered before it is written (real time: it only
# batches writes; what is written carries the injected clock's times).
FLUSH_DELAY_SECONDS = 1.0
# Refusals from an unknown address naming a ref_id, kept per write to look their ref_ids up
# (the rest of a flood are dropped: the metrics count them).
MAX_SUSPECTS = 200


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
        # from an address nobody vouches for: counted only if the ref_id is stored
        self._suspects: list[tuple[str, Refusal, datetime, str | None, str | None]] = []
        self._writing: asyncio.Task[None] | None = None

    def note(
        self,
        reason: Refusal,
        at: datetime,
        *,
        address: str | None,
        detail: str | None,
        ref_id: str | None = None,
    ) -> None:
        """Count one refusal; it is written within about a second (on the running loop).
        With `ref_id`, it came from an address nobody vouches for, and counts only if that
        ref_id is stored by then."""
        if ref_id is not None:
            if len(self._suspects) < MAX_SUSPECTS:
                self._suspects.append((ref_id, reason, at, address, detail))
        else:
            _count(self._tallies, reason, at, address, detail)
        if self._writing is None or self._writing.done():
            self._writing = asyncio.get_running_loop().create_task(
                self._write_soon(), name="callback-refusals"
            )

    @property
    def waiting(self) -> bool:
        """Whether refusals counted here are still to be written."""
        writing = self._writing is not None and not self._writing.done()
        return writing or bool(self._tallies or self._suspects)

    async def _write_soon(self) -> None:
        await asyncio.sleep(self.delay)
        await self.flush()

    async def flush(self) -> None:
        """Write what was counted so far (at shutdown too)."""
        tallies, self._tallies = self._tallies, {}
        suspects, self._suspects = self._suspects, []
        if not tallies and not suspects:
            return
        try:
            await asyncio.to_thread(self._write, tallies, suspects)
        except SQLAlchemyError as exc:
            # The database is down: the same outage is reported loudly elsewhere; these
            # counts only feed an alert, so they are not worth holding on to.
            log.warning("refused callbacks not recorded: %s", exc)

    async def close(self) -> None:
        """Stop waiting and write what is left."""
        if self._writing is not None and not self._writing.done():
            self._writing.cancel()
            await asyncio.gather(self._writing, return_exceptions=True)
        await self.flush()

    def _write(
        self,
        tallies: dict[Refusal, _Tally],
        suspects: list[tuple[str, Refusal, datetime, str | None, str | None]],
    ) -> None:
        with self.engine.connect().execution_options(write=True) as connection, connection.begin():
            stored = _stored(connection, {suspect[0] for suspect in suspects})
            for ref_id, reason, at, address, detail in suspects:
                if ref_id in stored:
                    _count(tallies, reason, at, address, detail)
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
            connection.execute(insert(callback_refusals), rows)


def _count(
    tallies: dict[Refusal, _Tally],
    reason: Refusal,
    at: datetime,
    address: str | None,
    detail: str | None,
) -> None:
    tally = tallies.get(reason)
    if tally is None:
        tallies[reason] = _Tally(1, at, at, address, detail)
    else:
        tally.count += 1
        tally.last_at = max(tally.last_at, at)
        tally.address, tally.detail = address, detail


def _stored(connection: Connection, ref_ids: set[str]) -> set[str]:
    """Which of these ref_ids the store holds."""
    if not ref_ids:
        return set()
    t = transactions.c
    return set(connection.execute(select(t.ref_id).where(t.ref_id.in_(sorted(ref_ids)))).scalars())


def prune_refusals(connection: Connection, before: datetime) -> None:
    """Forget refusals last seen before `before` (nobody looks at them any more)."""
    connection.execute(delete(callback_refusals).where(callback_refusals.c.last_at < before))
