"""`/iak find <customer number | serial | tr_id | ref_id>`: the stored transactions that match.

The store is read in a worker thread (`Database.read`), so the search never holds up the
event loop. Who searched is logged; what they typed never is: it is a customer's number or
token.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from bot.i18n import N_
from bot.services import Services
from bot.slack.blocks.finds import find_results
from bot.slack.blocks.reports import store_unavailable
from bot.slack.blocks.text import Message

log = logging.getLogger(__name__)

FIND_WHAT = N_("the matching transactions")


class TransactionFinds:
    """Builds `/iak find`'s answer from the store."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def answer(self, typed: str, *, user_id: str) -> Message:
        """The matching transactions, newest first; the database being down says so."""
        log.info("user %s searched the stored transactions (/iak find)", user_id or "?")
        store = self.services.database.transactions
        try:
            found = await self.services.database.read(store.find, typed)
        except SQLAlchemyError:
            log.exception("could not search the stored transactions")
            return store_unavailable(FIND_WHAT)
        return find_results(typed, found)
