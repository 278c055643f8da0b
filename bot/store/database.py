"""The database as the rest of the bot sees it: async, with writes batched."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from bot.store.db import create_db_engine, require_migrated
from bot.store.transactions import Observation, Recorded, TransactionStore
from bot.store.writer import StoreWriter

P = ParamSpec("P")
T = TypeVar("T")


class Database:
    """Engine, transaction store and group-commit writer for one DATABASE_URL."""

    def __init__(self, url: str) -> None:
        self.engine = create_db_engine(url)
        self.transactions = TransactionStore(self.engine)
        self.writer = StoreWriter(self.transactions)

    def require_migrated(self) -> None:
        """Stop with "run iak-bot migrate" unless the schema is current."""
        require_migrated(self.engine)

    async def record(self, observation: Observation) -> Recorded:
        """Store an observation durably (batched with concurrent ones)."""
        return await self.writer.record(observation)

    async def read(self, query: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a read query in a worker thread, off the event loop."""
        return await asyncio.to_thread(query, *args, **kwargs)

    def close(self) -> None:
        """Flush pending writes and close connections."""
        self.writer.stop()
        self.engine.dispose()
