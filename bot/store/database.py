"""The database as the rest of the bot sees it: async, with writes batched."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import ParamSpec, TypeVar

from bot.iak.models import Outcome, Source, TransactionData
from bot.store.db import create_db_engine, require_migrated
from bot.store.reports import Reports
from bot.store.transactions import Event, Observation, Recorded, TransactionStore
from bot.store.writer import StoreWriter
from bot.store.writer_process import ChildStore

log = logging.getLogger(__name__)

# Postgres writer processes: enough to overlap round trips; each has its own small pool.
WRITER_PROCESSES = 2

P = ParamSpec("P")
T = TypeVar("T")


class Database:
    """Engine, transaction store and group-commit writer for one DATABASE_URL."""

    def __init__(self, url: str) -> None:
        self.engine = create_db_engine(url)
        self.transactions = TransactionStore(self.engine)
        self.reports = Reports(self.engine)
        # Writes run in processes of their own, so that their database calls never wait on
        # the event loop for the GIL (see writer_process). SQLite has one writer at a time
        # anyway: one process. Postgres: a few, whose batches overlap their round trips.
        self.children: list[ChildStore] = []
        if self.engine.dialect.name != "sqlite":
            self.children = [ChildStore(url) for _ in range(WRITER_PROCESSES)]
        elif self.engine.url.database not in (None, "", ":memory:"):
            self.children = [ChildStore(url)]
        # (an in-memory SQLite database cannot be shared: written in this process)
        self.writer = StoreWriter(self.children or [self.transactions])
        # Launched now: their imports (about a second) overlap the rest of start-up, which
        # does not wait for them (`serve` binds $PORT first); a batch that comes earlier does.
        for child in self.children:
            child.launch()

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
        for child in self.children:
            child.close()
        self.engine.dispose()
