"""Group commit: writer threads take observations in batches, so a burst of callbacks costs
one transaction (and one fsync) per batch instead of one per request.

Each thread writes through its own store: a writer process (bot.store.writer_process), or
the TransactionStore itself for an in-memory SQLite database. SQLite has one writer at a
time anyway, so it gets one. On Postgres a batch spends most of its time waiting on round
trips and the commit, so a few overlap them; their batches lock rows in the same order and
retry on a race (see TransactionStore.record).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.exc import OperationalError

from bot.store.transactions import Observation, Recorded

log = logging.getLogger(__name__)

MAX_BATCH = 256
_STOP = object()


class StoreUnavailable(Exception):
    """The database could not be written to (down, full, or refused the write)."""


class BatchStore(Protocol):
    """What the writer threads write through: TransactionStore, or ChildStore."""

    def record(self, observations: Sequence[Observation]) -> list[Recorded]:
        """Apply observations in order, in one database transaction."""
        ...


@dataclass
class _Pending:
    observation: Observation
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Recorded]


class StoreWriter:
    """Serialises writes from many requests into batched database transactions."""

    def __init__(self, stores: Sequence[BatchStore]) -> None:
        # one writer thread per store (a ChildStore serves one batch at a time)
        self.stores = list(stores)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the writer threads (idempotent)."""
        with self._lock:
            if not self._workers:
                self._workers = [
                    threading.Thread(
                        target=self._run, args=(store,), name=f"store-writer-{n}", daemon=True
                    )
                    for n, store in enumerate(self.stores)
                ]
                for worker in self._workers:
                    worker.start()

    def stop(self, timeout: float = 10) -> None:
        """Finish what is queued, then stop."""
        with self._lock:
            workers, self._workers = self._workers, []
            for _ in workers:
                self._queue.put(_STOP)
            deadline = time.monotonic() + timeout
            for worker in workers:
                worker.join(max(deadline - time.monotonic(), 0))

    async def record(self, observation: Observation) -> Recorded:
        """Store one observation; returns once it is committed."""
        self.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Recorded] = loop.create_future()
        self._queue.put(_Pending(observation, loop, future))
        return await future

    def _run(self, store: BatchStore) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            self._write(store, batch)  # type: ignore[arg-type]
            if stop:
                return

    def _write(self, store: BatchStore, batch: list[_Pending]) -> None:
        try:
            results = store.record([pending.observation for pending in batch])
        except (OperationalError, StoreUnavailable) as exc:
            # The database (or the writer process) is down: every write in the batch fails
            # alike, fast, so callers can answer 503 and IAK retries later.
            log.error("database unavailable, %d write(s) refused: %s", len(batch), first_line(exc))
            _settle([(p, StoreUnavailable("the database is unavailable")) for p in batch])
            return
        except Exception:
            if len(batch) == 1:
                log.exception("could not store an observation of %s", batch[0].observation.ref_id)
                _settle([(batch[0], StoreUnavailable("the database did not accept the write"))])
                return
            # One bad observation must not fail the others: write them one by one.
            for pending in batch:
                self._write(store, [pending])
            return
        _settle(list(zip(batch, results, strict=True)))


def _settle(outcomes: list[tuple[_Pending, Recorded | Exception]]) -> None:
    """Hand results back to each waiting event loop with one wake-up per loop, not per item."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Pending, Recorded | Exception]]] = {}
    for pending, outcome in outcomes:
        by_loop.setdefault(pending.loop, []).append((pending, outcome))
    for loop, items in by_loop.items():
        # RuntimeError: that loop has closed, so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, items)


def _resolve(items: list[tuple[_Pending, Recorded | Exception]]) -> None:
    for pending, outcome in items:
        if pending.future.done():  # the caller went away (cancelled)
            continue
        if isinstance(outcome, Exception):
            pending.future.set_exception(outcome)
        else:
            pending.future.set_result(outcome)


def first_line(exc: BaseException) -> str:
    """An exception's first line, for a log line or an answer."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__
