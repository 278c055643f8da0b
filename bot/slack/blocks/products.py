"""`/iak product` answers: one product of IAK's price lists, a search's matches, or nothing.

Every answer says how old the list behind it is, and prominently when IAK could not be
asked and an older copy (or none) is all there is. Product names come from IAK: plain_text
where possible, and shown as text in mrkdwn like anything else from outside.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.iak.products import NoProduct, Product, ProductFound, ProductLookup, ProductMatches
from bot.price_lists import PriceListView
from bot.registry import Line
from bot.slack.blocks.durations import duration
from bot.slack.blocks.markup import Mrkdwn, join, md
from bot.slack.blocks.text import (
    Block,
    Message,
    actions,
    button,
    context,
    fields,
    header,
    message,
    plain_section,
    rupiah,
    section,
    truncate,
)

SHOW_PRODUCT_ACTION = "show_product"
MAX_MATCH_LINES = 10
MAX_MATCH_BUTTONS = 5
ACTIVE_BADGES = {
    True: ":large_green_circle: *Active*",
    False: ":red_circle: *Not active*",
    None: ":white_circle: *Status unknown*",
}
ACTIVE_WORDS = {True: "active", False: "not active", None: "status unknown"}
SEARCH_HINT = (
    "`/iak product <code>` for one product · `/iak product <words>` to search operators, "
    "nominals and types · `/iak product pp <words>` for postpaid only"
)


def fetching_message(query: str) -> Message:
    """The ack while IAK's price list is being fetched: the answer follows."""
    text = f"Fetching IAK's price list for “{truncate(query, 100)}”… the answer follows."
    return message(text, [plain_section(text)])


def product_answer(
    lookup: ProductLookup, views: Sequence[PriceListView], *, now: datetime
) -> Message:
    """The answer to `/iak product <query>` from the lists in `views`."""
    if all(view.products is None for view in views):
        return no_price_list(views, now=now)
    match lookup:
        case ProductFound(product=product, note=note):
            return product_card(product, views, now=now, note=note)
        case ProductMatches():
            return product_matches(lookup, views, now=now)
        case NoProduct():
            return no_product(lookup, views, now=now)


def product_card(
    product: Product, views: Sequence[PriceListView], *, now: datetime, note: str | None = None
) -> Message:
    """One product: price, nominal, operator, active or not, active period; how old the list is."""
    title = f"{product.code} · {product.name}" if product.name else product.code
    # Only its own list's age matters here.
    views = [view for view in views if view.line is product.line]
    blocks: list[Block] = [header(title)]
    if note:
        blocks.append(plain_section(note))
    blocks.extend(_warnings(views, now))
    blocks.append(context(f"{ACTIVE_BADGES[product.active]}   {_line_name(product.line)}"))
    blocks.append(fields(*_fields(product)))
    ages = _ages(views, now)
    if ages:
        blocks.append(context(*ages))
    price = _price(product)
    text = (
        f"{product.code}{f' ({product.name})' if product.name else ''}: {price}, "
        f"{ACTIVE_WORDS[product.active]}. {_age_words(views, product.line, now)}"
    )
    if note:
        text = f"{note} {text}"
    return message(text, blocks)


def product_matches(
    result: ProductMatches, views: Sequence[PriceListView], *, now: datetime
) -> Message:
    """A search's matches, best first, with buttons to open the first few."""
    shown = result.products[:MAX_MATCH_LINES]
    blocks: list[Block] = [header(truncate(f"Products matching “{result.query}”", 150))]
    if result.partial:
        blocks.append(
            plain_section(
                f"No product matches every word of “{truncate(result.query, 100)}”; these "
                "match some of them."
            )
        )
    blocks.extend(_warnings(views, now))
    lines: list[str] = [_product_line(product) for product in shown]
    if len(result.products) > len(shown):
        lines.append(f"_+{len(result.products) - len(shown)} more: add words to narrow it down_")
    blocks.append(section(join(lines)))
    blocks.append(_open_buttons(shown[:MAX_MATCH_BUTTONS], block_id="product_matches"))
    blocks.append(context(*_ages(views, now), SEARCH_HINT))
    best = shown[0]
    text = (
        f"{len(result.products)} products match “{result.query}”. Best: {best.code}, "
        f"{_price(best)}, {ACTIVE_WORDS[best.active]}."
    )
    return message(text, blocks)


def no_product(result: NoProduct, views: Sequence[PriceListView], *, now: datetime) -> Message:
    """Nothing matches: say so plainly, and offer codes spelled alike."""
    lead = f"No product in IAK's price lists matches “{truncate(result.query, 100)}”."
    blocks: list[Block] = [plain_section(lead)]
    blocks.extend(_warnings(views, now))
    text = lead
    if result.suggestions:
        lines = join(_product_line(product) for product in result.suggestions)
        blocks.append(section(md("*Codes spelled alike*\n{}", lines)))
        blocks.append(_open_buttons(result.suggestions, block_id="product_suggestions"))
        text += " Spelled alike: " + ", ".join(p.code for p in result.suggestions) + "."
    blocks.append(context(*_ages(views, now), SEARCH_HINT))
    return message(text, blocks)


def no_price_list(views: Sequence[PriceListView], *, now: datetime) -> Message:
    """Neither list is at hand: IAK failed and the bot has no copy."""
    lead = "IAK's price list is not available: IAK could not be asked and the bot has no copy."
    blocks: list[Block] = [section(f":warning: *{lead}*")]
    blocks.extend(_warnings(views, now))
    blocks.append(context("Try again in a minute; the bot asks IAK again by then."))
    reasons = "; ".join(view.error for view in views if view.error)
    text = f"{lead} {reasons}" if reasons else lead
    return message(text, blocks)


def _fields(product: Product) -> list[Mrkdwn]:
    days = product.active_days
    values: list[tuple[str, str]]
    if product.line is Line.POSTPAID:
        values = [
            ("Biller", _text(product.name)),
            ("Admin fee", rupiah(product.admin_fee)),
            ("Commission to us", rupiah(product.commission)),
            ("Type", _text(_type(product))),
        ]
        if product.province:
            values.append(("Province", _text(product.province)))
    else:
        values = [
            ("Price", rupiah(product.price)),
            ("Nominal", _text(product.nominal)),
            ("Operator", _text(product.name)),
            ("Type", _text(_type(product))),
            ("Active period", f"{days} days" if days else "—"),
        ]
        if product.details:
            values.append(("Details", _text(product.details)))
    return [md("*{}*\n{}", label, value) for label, value in values]


def _type(product: Product) -> str | None:
    parts = [part for part in (product.type, product.category) if part]
    # "pulsa · pulsa" says nothing twice
    return " · ".join(dict.fromkeys(parts)) or None


def _text(value: str | None) -> str:
    return truncate(value, 300) if value else "—"


def _price(product: Product) -> str:
    if product.line is Line.POSTPAID:
        return f"admin fee {rupiah(product.admin_fee)}"
    return rupiah(product.price)


def _product_line(product: Product) -> Mrkdwn:
    """`xld25000` XL 25000 · Rp24.925 · active · prepaid: one line of a list."""
    described = " ".join(part for part in (product.name, product.nominal) if part)
    words = [
        truncate(described, 80) if described else None,
        _price(product),
        ACTIVE_WORDS[product.active],
        product.line.value,
    ]
    return md("`{}` {}", truncate(product.code, 60), " · ".join(word for word in words if word))


def _open_buttons(products: Sequence[Product], *, block_id: str) -> Block:
    return actions(
        *(
            button(
                truncate(f"{product.code} · {_price(product)}", 75),
                f"{SHOW_PRODUCT_ACTION}_{index}",
                product.key,
            )
            for index, product in enumerate(products)
        ),
        block_id=block_id,
    )


def _line_name(line: Line) -> str:
    return "Postpaid (bill payment)" if line is Line.POSTPAID else "Prepaid"


def _warnings(views: Sequence[PriceListView], now: datetime) -> list[Block]:
    """A list answered from an old copy, or missing: said first, where it cannot be missed."""
    blocks: list[Block] = []
    for view in views:
        error = truncate(view.error or "not fetched yet", 300)
        if view.stale and view.fetched_at is not None:
            blocks.append(
                section(
                    f":warning: *IAK's {view.line.value} price list could not be refreshed*: "
                    f"{error}. This copy is {duration(now - view.fetched_at)} old: prices and "
                    "status may have changed since."
                )
            )
        elif view.products is None:
            blocks.append(
                section(
                    f":warning: *No {view.line.value} price list*: {error}. The bot has no "
                    "copy of it yet."
                )
            )
    return blocks


def _ages(views: Sequence[PriceListView], now: datetime) -> list[str]:
    """`IAK prepaid price list (development), fetched 3 min ago` for each list at hand."""
    return [
        f"IAK {view.line.value} price list ({view.endpoint.environment}), fetched "
        f"{duration(now - view.fetched_at)} ago{' (stale)' if view.stale else ''}"
        for view in views
        if view.fetched_at is not None
    ]


def _age_words(views: Sequence[PriceListView], line: Line, now: datetime) -> str:
    for view in views:
        if view.line is line and view.fetched_at is not None:
            stale = " (IAK could not be asked again)" if view.stale else ""
            return f"Price list fetched {duration(now - view.fetched_at)} ago{stale}."
    return ""
