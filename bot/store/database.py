"""The database as the rest of the bot sees it: async, with writes batched."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import ParamSpec, TypeVar

from bot.outcomes import Line, Outcome, Source
from bot.store.db import create_db_engine, require_migrated
from bot.store.reports import Reports
from bot.store.states import Observation, Reported
from bot.store.transactions import History, TransactionStore
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
        self.reports = Reports(self.engine)
        self.writer = Writer(self.engine)

    def require_migrated(self) -> None:
        """Stop with "run iak-bot migrate" unless the schema is current."""
        require_migrated(self.engine)

    async def read(self, query: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a read query in a worker thread, off the event loop."""
        return await asyncio.to_thread(query, *args, **kwargs)

    async def remember_check(
        self,
        ref_id: str,
        data: Reported | None,
        outcome: Outcome,
        at: datetime,
        *,
        line: Line = Line.PREPAID,
    ) -> History | None:
        """Record what a status check saw (on the line of the API that answered) and return
        the ref_id's history (None: store down)."""
        try:
            if data is not None:
                observation = Observation(Source.STATUS_CHECK, data, outcome, at, line=line)
                await self.writer.enqueue(observation)
            return await self.read(self.transactions.history, ref_id)
        except Exception:
            # The card is still worth showing without its history.
            log.exception("could not record or read the history of %s", ref_id)
            return None

    def close(self) -> None:
        """Flush pending writes and close connections."""
        self.writer.stop(timeout=2)
        self.engine.dispose()
