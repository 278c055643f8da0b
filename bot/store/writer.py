"""How an observation of a transaction gets stored, from the route to the commit.

1. `bot.intake` validates and authenticates a request, builds an `Observation` and calls
   `Writer.enqueue`, which returns once the observation is on disk (the route then answers
   200), or raises StoreUnavailable (503, try again) or StoreRejected (400).
2. A writer thread takes whatever is queued, up to MAX_BATCH, as one batch: group commit,
   one database transaction and one fsync for a burst of callbacks instead of one each.
3. The batch is written by `bot.store.batch.write_batch` (lock, merge, write, commit), in
   the writer process (`bot.store.writer_process`) for a SQLite file, in this process for
   Postgres.
4. Each waiting request gets its `Recorded` back, with one wake-up per event loop.

Why a process for SQLite: a batch's Python work shares the GIL with the event loop that
serves requests, and every SQLite call hands the GIL back and waits for the busy loop to
let it go again; a batch took twice as long in a thread as in a process of its own, and
with it the callbacks waiting on it (benchmarks/RESULTS.md). The process loads nothing but
the driver and the merge rules, so it costs little memory. On Postgres a batch mostly
waits on the network, two threads overlap their round trips, and a process per worker
would cost more memory than it saves time.

A stalled database (a lock held by a migration, a connection that stopped answering) must
not hold callbacks past the platform router's timeout: every enqueue has a deadline, the
waiting writes are bounded, and both answer 503 while the database is away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Protocol

from sqlalchemy import Engine

from bot.store.batch import SQLITE, is_outage, write_batch
from bot.store.states import Observation, Recorded

log = logging.getLogger(__name__)

MAX_BATCH = 256
# How long a request waits for its write (well inside the 30 s a platform router gives a
# request), and how many writes may wait at once before new ones are refused at once
# rather than held in memory.
WRITE_DEADLINE = 8.0
MAX_QUEUED = 5000
# Postgres: writer threads whose batches overlap their round trips.
POSTGRES_THREADS = 2
# Seconds a new writer process may take to start before it counts as failed.
STARTUP_TIMEOUT = 30
_STOP = object()


class StoreUnavailable(Exception):
    """The write did not happen: the database is down, stalled or overloaded. Try again."""


class StoreRejected(Exception):
    """The database refused the observation's data itself: the same write fails again."""


class BatchTarget(Protocol):
    """Where a writer thread's batches are written: here, or in the writer process."""

    def launch(self) -> None:
        """Get ready to write (without waiting)."""
        ...

    def write(self, observations: Sequence[Observation]) -> list[Recorded]:
        """Write one batch in one transaction; StoreUnavailable or StoreRejected."""
        ...

    def close(self) -> None:
        """Release what it holds."""
        ...


@dataclass
class _Waiting:
    """A queued observation and the request waiting for it."""

    observation: Observation
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Recorded]


class Writer:
    """Group commit: serialises writes from many requests into batched transactions."""

    def __init__(
        self,
        engine: Engine,
        *,
        deadline: float = WRITE_DEADLINE,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self.engine = engine
        self.deadline = deadline
        self.max_queued = max_queued
        self._queue: queue.SimpleQueue[_Waiting | object] = queue.SimpleQueue()
        self._targets: list[BatchTarget] = []
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        # writes waiting for the database, queued or in a batch being written
        self._waiting = 0
        self._count_lock = threading.Lock()

    def start(self) -> None:
        """Start the writer threads, and the writer process on a SQLite file (idempotent).
        The process's start-up (about a second) is not waited for: the first batch waits."""
        with self._lock:
            if self._workers:
                return
            url = self.engine.url
            if url.get_backend_name() == SQLITE and url.database not in (None, "", ":memory:"):
                self._targets = [WriterProcess(str(url.database))]
            else:
                # (an in-memory SQLite database cannot be shared: written in this process)
                threads = 1 if url.get_backend_name() == SQLITE else POSTGRES_THREADS
                self._targets = [InProcess(self.engine) for _ in range(threads)]
            self._workers = [
                threading.Thread(
                    target=self._run, args=(target,), name=f"store-writer-{n}", daemon=True
                )
                for n, target in enumerate(self._targets)
            ]
            for target in self._targets:
                target.launch()
            for worker in self._workers:
                worker.start()

    def stop(self, timeout: float = 10) -> None:
        """Finish what is queued, then stop (and let the writer process go)."""
        with self._lock:
            workers, self._workers = self._workers, []
            targets, self._targets = self._targets, []
            for _ in workers:
                self._queue.put(_STOP)
            deadline = time.monotonic() + timeout
            for worker in workers:
                worker.join(max(deadline - time.monotonic(), 0))
            for target in targets:
                target.close()

    async def enqueue(self, observation: Observation) -> Recorded:
        """Store one observation; returns once it is committed.

        Until `start` (a one-off command, which has no burst to batch), the observation is
        written on its own, in a worker thread of this process, with the same deadline.
        """
        if not self._workers:
            return await self._write_alone(observation)
        with self._count_lock:
            if self._waiting >= self.max_queued:
                raise StoreUnavailable("too many writes are waiting for the database")
            self._waiting += 1
        try:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[Recorded] = loop.create_future()
            # A timer on the future rather than asyncio.timeout around the await: the same
            # deadline for a fraction of the work, on the route every callback takes.
            expiry = loop.call_later(self.deadline, _expire, future)
            self._queue.put(_Waiting(observation, loop, future))
            try:
                return await future
            finally:
                expiry.cancel()
        finally:
            with self._count_lock:
                self._waiting -= 1

    async def _write_alone(self, observation: Observation) -> Recorded:
        target = InProcess(self.engine)
        try:
            (recorded,) = await asyncio.wait_for(
                asyncio.to_thread(target.write, [observation]), self.deadline
            )
        except TimeoutError:
            raise StoreUnavailable("the database did not answer in time") from None
        return recorded

    def _run(self, target: BatchTarget) -> None:
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
            self._write(target, [waiting for waiting in batch if isinstance(waiting, _Waiting)])
            if stop:
                return

    def _write(self, target: BatchTarget, batch: list[_Waiting]) -> None:
        # Requests that gave up waiting have answered 503: their senders will send again.
        batch = [waiting for waiting in batch if not waiting.future.done()]
        if not batch:
            return
        try:
            results = target.write([waiting.observation for waiting in batch])
        except StoreUnavailable as exc:
            # Every write in the batch fails alike, fast, so callers answer 503 and IAK
            # retries later.
            _settle([(waiting, exc) for waiting in batch])
            return
        except StoreRejected as exc:
            if len(batch) > 1:
                # One bad observation must not fail the others: write them one by one.
                for waiting in batch:
                    self._write(target, [waiting])
                return
            _settle([(batch[0], exc)])
            return
        _settle(list(zip(batch, results, strict=True)))


class InProcess:
    """Batches written by this process, on a connection of the engine's pool."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def launch(self) -> None:
        """Ready as it is: connections come from the engine's pool when needed."""

    def write(self, observations: Sequence[Observation]) -> list[Recorded]:
        """Write one batch; errors classified for the callers."""
        try:
            connection = self.engine.raw_connection()
            try:
                return write_batch(connection, self.engine.dialect.name, observations)
            finally:
                connection.close()
        except Exception as exc:
            raise _classified(exc, observations) from None

    def close(self) -> None:
        """Nothing of its own to release: the connections are the engine's pool's."""


def _classified(exc: Exception, observations: Sequence[Observation]) -> Exception:
    """StoreUnavailable for an outage, StoreRejected for data the database refused; logged
    here, in the web process, whose log lines are redacted."""
    if is_outage(exc) or "no such table" in str(exc):
        log.error("database unavailable, %d write(s) refused: %s", len(observations), _line(exc))
        return StoreUnavailable("the database is unavailable")
    log.error(
        "the database refused a batch of %d observation(s) (%s): %s",
        len(observations),
        ", ".join(observation.ref_id for observation in observations[:5]),
        _line(exc),
    )
    return StoreRejected(f"the database refused this data: {_line(exc)[:200]}")


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{exc.__class__.__name__}: {first}" if first else exc.__class__.__name__


class WriterProcess:
    """Batches written by the writer process (`python -m bot.store.writer_process`), for
    one SQLite file; its writer thread waits for the answer without holding the GIL."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._to_child: Connection | None = None
        self._from_child: Connection | None = None
        self._ready = False

    @property
    def pid(self) -> int | None:
        """The writer process's pid, while it runs."""
        return self._process.pid if self._process is not None else None

    def launch(self, *, wait: bool = False) -> None:
        """Start the process (idempotent); with `wait`, until it is ready."""
        with self._lock:
            if self._process is None:
                self._launch()
            if wait:
                self._await_ready()

    def write(self, observations: Sequence[Observation]) -> list[Recorded]:
        """Write one batch through the process; StoreUnavailable if it or the database is
        down, StoreRejected for data the database refused."""
        batch = list(observations)
        with self._lock:
            if self._to_child is None or self._process is None or self._process.poll() is not None:
                self._reset()
                self._launch()
            self._await_ready()
            assert self._to_child is not None and self._from_child is not None
            try:
                self._to_child.send(batch)
                status, value = self._from_child.recv()
            except (EOFError, OSError) as exc:
                # It died (killed, out of memory); the next batch starts a new one.
                log.error("the store's writer process stopped: %s", exc.__class__.__name__)
                self._reset()
                raise StoreUnavailable("the store's writer process stopped") from None
        if status == "ok":
            results: list[Recorded] = value
            return results
        if status == "unavailable":
            log.error("database unavailable, %d write(s) refused: %s", len(batch), value)
            raise StoreUnavailable("the database is unavailable")
        log.error("the database refused a batch of %d observation(s): %s", len(batch), value)
        raise StoreRejected(f"the database refused this data: {value}")

    def close(self, timeout: float = 5) -> None:
        """Let the process finish its batch and exit."""
        with self._lock:
            process = self._process
            if process is None:
                return
            with contextlib.suppress(OSError):
                if self._to_child is not None:
                    self._to_child.send(None)
            self._close_pipes()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            self._process = None

    def _launch(self) -> None:
        to_child_read, to_child_write = os.pipe()
        from_child_read, from_child_write = os.pipe()
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [
                    sys.executable,
                    "-m",
                    "bot.store.writer_process",
                    str(to_child_read),
                    str(from_child_write),
                ],
                pass_fds=(to_child_read, from_child_write),
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            os.close(to_child_write)
            os.close(from_child_read)
            raise StoreUnavailable(f"the store's writer process did not start: {exc}") from None
        finally:
            os.close(to_child_read)
            os.close(from_child_write)
        self._to_child = Connection(to_child_write, readable=False)
        self._from_child = Connection(from_child_read, writable=False)
        self._to_child.send(self.path)
        self._ready = False

    def _await_ready(self) -> None:
        if self._ready:
            return
        assert self._from_child is not None
        try:
            ready = self._from_child.poll(STARTUP_TIMEOUT) and self._from_child.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self._reset()
            raise StoreUnavailable("the store's writer process did not start")
        self._ready = True

    def _close_pipes(self) -> None:
        for connection in (self._to_child, self._from_child):
            if connection is not None:
                connection.close()
        self._to_child = self._from_child = None

    def _reset(self) -> None:
        """Forget the process: close its pipes and make sure it is gone."""
        self._close_pipes()
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            self._process = None


def _settle(outcomes: list[tuple[_Waiting, Recorded | Exception]]) -> None:
    """Hand results back to each waiting event loop with one wake-up per loop, not per item."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Waiting, Recorded | Exception]]] = {}
    for waiting, outcome in outcomes:
        by_loop.setdefault(waiting.loop, []).append((waiting, outcome))
    for loop, items in by_loop.items():
        # RuntimeError: that loop has closed, so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, items)


def _expire(future: asyncio.Future[Recorded]) -> None:
    """A write's deadline has passed: its request answers 503 (the write may still land)."""
    if not future.done():
        future.set_exception(StoreUnavailable("the database did not answer in time"))


def _resolve(items: list[tuple[_Waiting, Recorded | Exception]]) -> None:
    for waiting, outcome in items:
        if waiting.future.done():  # the caller went away (cancelled, or past its deadline)
            continue
        if isinstance(outcome, Exception):
            waiting.future.set_exception(outcome)
        else:
            waiting.future.set_result(outcome)
