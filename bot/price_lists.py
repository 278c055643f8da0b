"""IAK's price lists as `/iak product` answers from them: cached in the database, so that
every process shares one copy and IAK is asked at most every FRESH_FOR.

A copy older than that is refreshed when someone needs it. Should IAK fail, the old copy
still answers (the card says how old it is and why it was not refreshed), and IAK is not
asked again before RETRY_FAILED_AFTER, so that a burst of commands during an outage does
not become a burst of requests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from bot.clock import Clock
from bot.i18n import N_, _
from bot.iak.client import ErrorKind, IakClient, IakEndpoint, PriceListFetch
from bot.iak.products import Product
from bot.registry import Line, line_named
from bot.store.price_lists import PriceListRepository

log = logging.getLogger(__name__)

FRESH_FOR = timedelta(minutes=10)
RETRY_FAILED_AFTER = timedelta(minutes=1)
# The words ops read for each way a fetch can fail.
_FAILURE_WORDS = {
    ErrorKind.TIMEOUT: N_("IAK did not answer in time"),
    ErrorKind.UNREACHABLE: N_("could not reach IAK"),
    ErrorKind.HTTP_STATUS: N_("IAK answered with an error"),
    ErrorKind.UNPARSEABLE: N_("IAK's answer could not be read"),
    ErrorKind.BUSY: N_("the bot had too many requests waiting on IAK"),
}
_WRONG_SIGN = {Line.PREPAID: "204", Line.POSTPAID: "100"}
# Both lists, in the order answers search and show them.
LINES = (Line.PREPAID, Line.POSTPAID)


@dataclass(frozen=True)
class PriceListView:
    """One price list as the bot can answer from it now."""

    line: Line
    endpoint: IakEndpoint
    # None: the bot has no copy at all
    products: tuple[Product, ...] | None = None
    fetched_at: datetime | None = None
    attempted_at: datetime | None = None
    # why the last refresh failed (after `fetched_at`, if there is a copy); None when it did not
    error: str | None = None

    @property
    def stale(self) -> bool:
        """There is a copy, but IAK failed when it was due to be refreshed."""
        return self.products is not None and self.error is not None


class PriceLists:
    """The process's way to IAK's price lists: the database first, IAK when that is old."""

    def __init__(
        self,
        iak: IakClient,
        repository: PriceListRepository | None,
        clock: Clock,
        *,
        fresh_for: timedelta = FRESH_FOR,
        retry_failed_after: timedelta = RETRY_FAILED_AFTER,
    ) -> None:
        self.iak = iak
        # None where there is no database (a terminal without one): every answer asks IAK.
        self.repository = repository
        self.clock = clock
        self.fresh_for = fresh_for
        self.retry_failed_after = retry_failed_after
        # Products already read, by list and fetch time: a list only changes when refreshed,
        # so the thousands of rows are read again only after another fetch.
        self._read: dict[tuple[Line, str], tuple[datetime, tuple[Product, ...]]] = {}
        self._refreshing: dict[Line, asyncio.Task[PriceListView]] = {}

    def endpoint(self, line: Line) -> IakEndpoint:
        """Which IAK a list comes from."""
        return self.iak.postpaid_endpoint if line is Line.POSTPAID else self.iak.endpoint

    async def cached(self, lines: Sequence[Line]) -> list[PriceListView]:
        """The lists as the database holds them now (read in a worker thread)."""
        return await asyncio.to_thread(lambda: [self._cached(line) for line in lines])

    def cached_now(self, line: Line) -> PriceListView:
        """The list as the database holds it now, for a caller already in a worker thread
        (the monitor's tick): never asks IAK."""
        return self._cached(line)

    def due(self, view: PriceListView, now: datetime) -> bool:
        """Whether IAK should be asked for this list before answering from it."""
        if view.fetched_at is not None and now - view.fetched_at < self.fresh_for:
            return False
        recently_failed = (
            view.error is not None
            and view.attempted_at is not None
            and now - view.attempted_at < self.retry_failed_after
        )
        return not recently_failed

    async def current(self, lines: Sequence[Line]) -> list[PriceListView]:
        """The lists, refreshed from IAK first where due (each list by one fetch at a time)."""
        views = await self.cached(lines)
        now = self.clock.now()
        return list(
            await asyncio.gather(
                *(self._refresh(view) if self.due(view, now) else _done(view) for view in views)
            )
        )

    def _cached(self, line: Line) -> PriceListView:
        endpoint = self.endpoint(line)
        key = (line, endpoint.base_url)
        if self.repository is None:
            return PriceListView(line, endpoint)
        try:
            attempts = self.repository.attempts(line, endpoint.base_url)
            if attempts is None:
                return PriceListView(line, endpoint)
            products: tuple[Product, ...] | None = None
            if attempts.fetched_at is not None:
                read = self._read.get(key)
                if read is None or read[0] != attempts.fetched_at:
                    stored = self.repository.products(line, endpoint.base_url)
                    if stored is not None:
                        self._read[key] = read = stored
                products = read[1] if read is not None else None
        except SQLAlchemyError:
            # Without the store the list can still come from IAK, uncached.
            log.exception("could not read the cached %s price list", line.value)
            return PriceListView(line, endpoint)
        return PriceListView(
            line,
            endpoint,
            products,
            attempts.fetched_at if products is not None else None,
            attempts.attempted_at,
            attempts.error,
        )

    async def _refresh(self, view: PriceListView) -> PriceListView:
        """Fetch one list from IAK, once even when many commands need it at the same time."""
        running = self._refreshing.get(view.line)
        if running is None or running.done():
            running = asyncio.ensure_future(self._fetch(view))
            self._refreshing[view.line] = running
        return await asyncio.shield(running)

    async def _fetch(self, view: PriceListView) -> PriceListView:
        fetched = await self.iak.price_list(view.line)
        now = self.clock.now()
        base_url = view.endpoint.base_url
        repository = self.repository
        if fetched.products is not None:
            products = fetched.products
            if repository is not None:
                await self._store(repository.save, view.line, base_url, products, now)
            self._read[(view.line, base_url)] = (now, products)
            return replace(view, products=products, fetched_at=now, attempted_at=now, error=None)
        error = describe_failure(fetched)
        if repository is not None:
            await self._store(repository.save_failure, view.line, base_url, error, now)
        return replace(view, attempted_at=now, error=error)

    @staticmethod
    async def _store(write: Callable[..., None], *args: object) -> None:
        try:
            await asyncio.to_thread(write, *args)
        except SQLAlchemyError:
            # The answer is still good; the next command will simply ask IAK again.
            log.exception("could not cache the price list")


async def _done(view: PriceListView) -> PriceListView:
    return view


def product_query(text: str) -> tuple[tuple[Line, ...], str]:
    """Which lists a query asks, and its words: `xld25000` (both lists), `pp bpjs` or
    `postpaid bpjs` (postpaid only), `prepaid xl` (prepaid only)."""
    text = " ".join(text.split())
    first, __, rest = text.partition(" ")
    line = line_named(first)
    if line is None:
        return LINES, text
    return (line,), rest


def products_of(views: Sequence[PriceListView]) -> tuple[Product, ...]:
    """Every product the views hold, in their order (prepaid first, as `LINES` lists them)."""
    return tuple(product for view in views for product in view.products or ())


def describe_failure(fetched: PriceListFetch) -> str:
    """Why IAK gave no list, in a line for ops (no key, no sign), in the language of whoever
    asked for the list."""
    failure = fetched.failure
    if failure is not None:
        return f"{_(_FAILURE_WORDS[failure.kind])} ({failure.detail})"
    rc = fetched.rc
    word = "response_code" if fetched.line is Line.POSTPAID else "rc"
    message = fetched.answer.message
    said = f"{word} {rc}" + (f": {message}" if message else "")
    if rc == _WRONG_SIGN[fetched.line]:
        return _(
            "IAK rejected the bot's credentials ({said}): check IAK_USERNAME and IAK_API_KEY"
        ).format(said=said)
    if rc == "102":
        return _("IAK refuses the bot's IP address ({said}): whitelist it at IAK").format(said=said)
    return _("IAK refused the request ({said})").format(said=said)
