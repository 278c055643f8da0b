"""The database as the rest of the bot sees it: async, with writes batched."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from bot.store.db import create_db_engine, require_migrated
from bot.store.transactions import TransactionStore
from bot.store.writer import Writer

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class Database:
    """Engine, reads and the group-commit writer for one DATABASE_URL; nothing connects or
    starts until it is used."""

    def __init__(self, url: str) -> None:
        self.engine = create_db_engine(url)
        self.transactions = TransactionStore(self.engine)
        self.writer = Writer(self.engine)

    def require_migrated(self) -> None:
        """Stop with "run iak-bot migrate" unless the schema is current."""
        require_migrated(self.engine)

    async def read(self, query: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a read query in a worker thread, off the event loop."""
        return await asyncio.to_thread(query, *args, **kwargs)

    def close(self) -> None:
        """Flush pending writes and close connections."""
        self.writer.stop(timeout=2)
        self.engine.dispose()
