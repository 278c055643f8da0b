"""The store's writers in child processes of their own, and the parent's side of them.

A writer thread shares the GIL with the event loop that serves requests. Every SQLite call
gives the GIL up and must then wait for the busy loop to hand it back: measured with a busy
loop beside it, one batch of 25 callbacks took 33 ms instead of 6, and under callback load
the writer was the bottleneck, busy 97% of the time. In a child process the writes run on
the other core with a GIL of their own; the parent's writer thread only pickles a batch,
sends it down a pipe and waits (without the GIL) for the answer. Each writer thread has
its own child (one on SQLite, a few on Postgres: see bot.store.database).

The child ignores SIGTERM and SIGINT (the platform signals every process of a dyno): it
finishes the batch in hand and exits when its parent closes the pipe or goes away.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection

from bot.store.transactions import Observation, Recorded
from bot.store.writer import StoreUnavailable, first_line

log = logging.getLogger(__name__)

# Seconds a new child may take to import and connect before it counts as failed.
STARTUP_TIMEOUT = 30


class StoreRejected(Exception):
    """The database refused these observations (not an outage: the same batch fails again)."""


class ChildStore:
    """`TransactionStore.record` run by a child process, for the writer thread to call."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._to_child: Connection | None = None
        self._from_child: Connection | None = None
        self._ready = False

    def launch(self, *, wait: bool = False) -> None:
        """Start the child (idempotent). Start-up does not wait for it (its imports take
        about a second): the first batch waits until it is ready. With `wait`, wait here;
        StoreUnavailable if it cannot start."""
        with self._lock:
            if self._process is None:
                self._launch()
            if wait:
                self._await_ready()

    def record(self, observations: Sequence[Observation]) -> list[Recorded]:
        """Store a batch through the child; StoreUnavailable if it or the database is down."""
        with self._lock:
            if self._to_child is None or self._process is None or self._process.poll() is not None:
                self._reset()
                self._launch()
            self._await_ready()  # StoreUnavailable if it cannot start
            assert self._to_child is not None and self._from_child is not None
            try:
                self._to_child.send(list(observations))
                status, value = self._from_child.recv()
            except (EOFError, OSError) as exc:
                # The child died (killed, out of memory); the next batch starts a new one.
                log.error("the store's writer process stopped: %s", exc.__class__.__name__)
                self._reset()
                raise StoreUnavailable("the store's writer process stopped") from None
        if status == "ok":
            results: list[Recorded] = value
            return results
        if status == "unavailable":
            raise StoreUnavailable(value)
        raise StoreRejected(value)

    def close(self, timeout: float = 5) -> None:
        """Let the child finish and exit."""
        with self._lock:
            process = self._process
            if process is None:
                return
            try:
                if self._to_child is not None:
                    self._to_child.send(None)
            except OSError:
                pass
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
        # the URL may hold a password: through the pipe, not the command line
        self._to_child.send(self.url)
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
        """Forget the child: close its pipes and make sure it is gone."""
        self._close_pipes()
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            self._process = None


def serve(requests: Connection, answers: Connection) -> None:
    """The child: store each batch that arrives and answer with what happened."""
    from sqlalchemy.exc import OperationalError

    from bot.store.db import create_db_engine
    from bot.store.transactions import TransactionStore

    url = requests.recv()
    engine = create_db_engine(url)
    store = TransactionStore(engine)
    # As in the web process (Bot.start): what start-up built lives as long as the process,
    # and full collections that re-walk it stalled a batch by tens of milliseconds.
    gc.collect()
    gc.freeze()
    answers.send("ready")
    try:
        while True:
            try:
                batch = requests.recv()
            except (EOFError, OSError):
                return  # the parent went away
            if batch is None:
                return
            try:
                answer: tuple[str, object] = ("ok", store.record(batch))
            except OperationalError as exc:
                answer = ("unavailable", first_line(exc))
            except Exception as exc:
                log.exception("could not store a batch of %d observation(s)", len(batch))
                answer = ("rejected", f"{exc.__class__.__name__}: {first_line(exc)}"[:500])
            try:
                answers.send(answer)
            except OSError:
                return
    finally:
        engine.dispose()


def _setup_logging() -> None:
    """The parent's logging (format, level, redaction), from the same environment."""
    from bot.config import load_settings
    from bot.logs import setup_logging

    try:
        setup_logging(load_settings())
    except Exception:  # settings the parent accepted; this is only a fallback
        logging.basicConfig(level=logging.WARNING)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _setup_logging()
    serve(Connection(int(argv[0]), writable=False), Connection(int(argv[1]), readable=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
