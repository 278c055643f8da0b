"""Group commit: one thread writes observations in batches, so a burst of callbacks costs
one transaction (and one fsync) per batch instead of one per request."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from concurrent.futures import Future

from sqlalchemy.exc import OperationalError

from bot.store.transactions import Observation, Recorded, TransactionStore

log = logging.getLogger(__name__)

MAX_BATCH = 256
_STOP = object()


class StoreWriter:
    """Serialises writes from many requests into batched database transactions."""

    def __init__(self, store: TransactionStore) -> None:
        self.store = store
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._started = False

    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        if not self._started:
            self._started = True
            self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Finish what is queued, then stop."""
        if self._started:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._started = False

    async def record(self, observation: Observation) -> Recorded:
        """Store one observation; returns once it is committed."""
        self.start()
        future: Future[Recorded] = Future()
        self._queue.put((observation, future))
        return await asyncio.wrap_future(future)

    def _run(self) -> None:
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
            self._write(batch)  # type: ignore[arg-type]
            if stop:
                return

    def _write(self, batch: list[tuple[Observation, Future[Recorded]]]) -> None:
        try:
            results = self.store.record([observation for observation, _ in batch])
        except OperationalError as exc:
            # The database is down or unreachable: every write in the batch fails alike,
            # fast, so callers can answer 503 and IAK retries later.
            log.error("database unavailable, %d write(s) refused: %s", len(batch), _first_line(exc))
            for _, future in batch:
                future.set_exception(StoreUnavailable("the database is unavailable"))
            return
        except Exception:
            if len(batch) == 1:
                observation, future = batch[0]
                log.exception("could not store an observation of %s", observation.ref_id)
                future.set_exception(StoreUnavailable("the database did not accept the write"))
                return
            # One bad observation must not fail the others: write them one by one.
            for item in batch:
                self._write([item])
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)


class StoreUnavailable(Exception):
    """The database could not be written to (down, full, or refused the write)."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__
