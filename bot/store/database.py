"""The database as the rest of the bot sees it: async, with writes batched."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import ParamSpec, TypeVar

from bot.iak.models import Outcome, Source, TransactionData
from bot.store.db import create_db_engine, require_migrated
from bot.store.transactions import Event, Observation, Recorded, TransactionStore
from bot.store.writer import StoreWriter
from bot.store.writer_process import ChildStore

log = logging.getLogger(__name__)

# Postgres writer threads: enough to overlap round trips, well under the pool's 10 connections.
WRITER_THREADS = 3

P = ParamSpec("P")
T = TypeVar("T")


class Database:
    """Engine, transaction store and group-commit writer for one DATABASE_URL."""

    def __init__(self, url: str) -> None:
        self.engine = create_db_engine(url)
        self.transactions = TransactionStore(self.engine)
        # SQLite: one writer at a time anyway, in a process of its own so that its calls
        # never wait on the event loop for the GIL (see writer_process). Postgres: threads,
        # whose time goes to round trips, overlapped.
        self.child: ChildStore | None = None
        if self.engine.dialect.name == "sqlite":
            if self.engine.url.database not in (None, "", ":memory:"):
                self.child = ChildStore(url)
            self.writer = StoreWriter(self.child or self.transactions, threads=1)
        else:
            self.writer = StoreWriter(self.transactions, threads=WRITER_THREADS)

    def start(self) -> None:
        """Start writing: the writer threads, and the writer process where there is one."""
        if self.child is not None:
            self.child.start()
        self.writer.start()

    def require_migrated(self) -> None:
        """Stop with "run iak-bot migrate" unless the schema is current."""
        require_migrated(self.engine)

    async def record(self, observation: Observation) -> Recorded:
        """Store an observation durably (batched with concurrent ones)."""
        return await self.writer.record(observation)

    async def read(self, query: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a read query in a worker thread, off the event loop."""
        return await asyncio.to_thread(query, *args, **kwargs)

    async def remember_check(
        self, ref_id: str, data: TransactionData | None, outcome: Outcome, at: datetime
    ) -> list[Event] | None:
        """Record what a status check saw and return the ref_id's history (None: store down)."""
        try:
            if data is not None:
                await self.record(Observation(Source.STATUS_CHECK, data, outcome, at))
            return await self.read(self.transactions.history, ref_id)
        except Exception:
            # The card is still worth showing without its history.
            log.exception("could not record or read the history of %s", ref_id)
            return None

    def close(self) -> None:
        """Flush pending writes and close connections."""
        self.writer.stop(timeout=2)
        if self.child is not None:
            self.child.close()
        self.engine.dispose()
