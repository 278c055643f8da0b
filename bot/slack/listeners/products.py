"""`/iak product` answers and the buttons that open one product.

The price lists come from the database (a read in a worker thread) and, when the copy there
is older than the cache allows, from IAK. Reading answers in the ack itself; a fetch from
IAK is acked at once and answered through response_url, as `/iak status` is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from slack_bolt.async_app import AsyncAck, AsyncRespond

from bot.iak.products import find_product, parse_product_key
from bot.price_lists import PriceLists, PriceListView, products_of
from bot.registry import Line
from bot.services import Services
from bot.shapes import Json
from bot.slack.blocks.products import SHOW_PRODUCT_ACTION, fetching_message, product_answer
from bot.slack.blocks.text import Message
from bot.slack.interactions import Click, ack_ephemeral, answer_later, post_later, post_soon
from bot.slack.listeners.checks import not_configured_message


class ProductAnswers:
    """Answers from IAK's price lists, for the slash command and for buttons."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def answer(
        self,
        price_lists: PriceLists,
        lines: Sequence[Line],
        query: str,
        ack: AsyncAck,
        respond: AsyncRespond,
        *,
        read_within: float,
    ) -> None:
        """Answer in the ack when the cached lists are fresh (and read and searched within
        `read_within` seconds); else ack now and post the answer later: from IAK's lists
        when the cached ones are old, else once the search is done."""
        background = self.services.background
        reading = background.spawn(
            self._from_cache(price_lists, lines, query), name="read-price-lists"
        )
        done, _ = await asyncio.wait({reading}, timeout=read_within)
        fresh = reading.result() if reading in done else None
        if fresh is not None:
            await ack_ephemeral(ack, fresh)
            return
        await ack_ephemeral(ack, fetching_message(query))
        answer_later(
            background,
            respond,
            self._post_when_read(reading, price_lists, lines, query, respond),
            what="price list answer",
        )

    async def _from_cache(
        self, price_lists: PriceLists, lines: Sequence[Line], query: str
    ) -> Message | None:
        """The answer from the cached lists; None when one of them is due from IAK."""
        views = await price_lists.cached(lines)
        now = self.services.clock.now()
        if any(price_lists.due(view, now) for view in views):
            return None
        return await self._message(query, views)

    async def _post_when_read(
        self,
        reading: asyncio.Task[Message | None],
        price_lists: PriceLists,
        lines: Sequence[Line],
        query: str,
        respond: AsyncRespond,
    ) -> None:
        found = await reading
        if found is None:
            await self._post(price_lists, lines, query, respond, replace_original=False)
            return
        await post_later(
            respond, found, replace_original=False, what=f"product answer {query[:40]}"
        )

    async def open(self, ack: AsyncAck, body: Json, respond: AsyncRespond) -> None:
        """A search result's button (replaces the list) or a status card's "Check the product"
        (a new message under the card): the product's card."""
        await ack()
        click = Click.of(body)
        target = parse_product_key(click.value)
        if target is None:
            return
        price_lists = self.services.price_lists
        if price_lists is None:
            message = not_configured_message(self.services.settings)
            post_soon(self.services.background, respond, message, what="IAK settings")
            return
        line, code = target
        replace = click.action_id.startswith(SHOW_PRODUCT_ACTION)
        answer_later(
            self.services.background,
            respond,
            self._post(price_lists, (line,), code, respond, replace_original=replace),
            what=f"product card of {code}",
            replace_original=replace,
        )

    async def _post(
        self,
        price_lists: PriceLists,
        lines: Sequence[Line],
        query: str,
        respond: AsyncRespond,
        *,
        replace_original: bool,
    ) -> None:
        views = await price_lists.current(lines)
        await post_later(
            respond,
            await self._message(query, views),
            replace_original=replace_original,
            what=f"product answer {query[:40]}",
        )

    async def _message(self, query: str, views: Sequence[PriceListView]) -> Message:
        # A search weighs the query against thousands of products: in a worker thread, so
        # that the event loop goes on serving callbacks and acks meanwhile.
        lookup = await asyncio.to_thread(find_product, products_of(views), query)
        return product_answer(lookup, views, now=self.services.clock.now())
