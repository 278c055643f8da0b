"""`/iak product` answers: one product of IAK's price lists, a search's matches, or nothing.

Every answer says how old the list behind it is, and prominently when IAK could not be
asked and an older copy (or none) is all there is. Product names come from IAK: plain_text
where possible, and shown as text in mrkdwn like anything else from outside.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.i18n import N_, _
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
LINE_WORDS = {Line.PREPAID: N_("prepaid"), Line.POSTPAID: N_("postpaid")}
MAX_MATCH_LINES = 10
MAX_MATCH_BUTTONS = 5
ACTIVE_BADGES = {
    True: (":large_green_circle:", N_("Active")),
    False: (":red_circle:", N_("Not active")),
    None: (":white_circle:", N_("Status unknown")),
}
ACTIVE_WORDS = {True: N_("active"), False: N_("not active"), None: N_("status unknown")}
SEARCH_HINT = N_(
    "`/iak product <code>` for one product · `/iak product <words>` to search operators, "
    "nominals and types · `/iak product pp <words>` for postpaid only"
)


def fetching_message(query: str) -> Message:
    """The ack while IAK's price list is being fetched: the answer follows."""
    text = _("Fetching IAK's price list for “{query}”… the answer follows.").format(
        query=truncate(query, 100)
    )
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
    emoji, active = ACTIVE_BADGES[product.active]
    blocks.append(context(f"{emoji} *{_(active)}*   {_line_name(product.line)}"))
    blocks.append(fields(*_fields(product)))
    ages = _ages(views, now)
    if ages:
        blocks.append(context(*ages))
    price = _price(product)
    text = (
        f"{product.code}{f' ({product.name})' if product.name else ''}: {price}, "
        f"{_(ACTIVE_WORDS[product.active])}. {_age_words(views, product.line, now)}"
    )
    if note:
        text = f"{note} {text}"
    return message(text, blocks)


def product_matches(
    result: ProductMatches, views: Sequence[PriceListView], *, now: datetime
) -> Message:
    """A search's matches, best first, with buttons to open the first few."""
    shown = result.products[:MAX_MATCH_LINES]
    blocks: list[Block] = [
        header(truncate(_("Products matching “{query}”").format(query=result.query), 150))
    ]
    if result.partial:
        blocks.append(
            plain_section(
                _("No product matches every word of “{query}”; these match some of them.").format(
                    query=truncate(result.query, 100)
                )
            )
        )
    blocks.extend(_warnings(views, now))
    lines: list[str] = [_product_line(product) for product in shown]
    if len(result.products) > len(shown):
        more = _("+{count} more: add words to narrow it down").format(
            count=len(result.products) - len(shown)
        )
        lines.append(f"_{more}_")
    blocks.append(section(join(lines)))
    blocks.append(_open_buttons(shown[:MAX_MATCH_BUTTONS], block_id="product_matches"))
    blocks.append(context(*_ages(views, now), _(SEARCH_HINT)))
    best = shown[0]
    text = _("{count} products match “{query}”. Best: {code}, {price}, {active}.").format(
        count=len(result.products),
        query=result.query,
        code=best.code,
        price=_price(best),
        active=_(ACTIVE_WORDS[best.active]),
    )
    return message(text, blocks)


def no_product(result: NoProduct, views: Sequence[PriceListView], *, now: datetime) -> Message:
    """Nothing matches: say so plainly, and offer codes spelled alike."""
    lead = _("No product in IAK's price lists matches “{query}”.").format(
        query=truncate(result.query, 100)
    )
    blocks: list[Block] = [plain_section(lead)]
    blocks.extend(_warnings(views, now))
    text = lead
    if result.suggestions:
        lines = join(_product_line(product) for product in result.suggestions)
        blocks.append(section(md("*{}*\n{}", _("Codes spelled alike"), lines)))
        blocks.append(_open_buttons(result.suggestions, block_id="product_suggestions"))
        text += " " + _("Spelled alike: {codes}.").format(
            codes=", ".join(p.code for p in result.suggestions)
        )
    blocks.append(context(*_ages(views, now), _(SEARCH_HINT)))
    return message(text, blocks)


def no_price_list(views: Sequence[PriceListView], *, now: datetime) -> Message:
    """Neither list is at hand: IAK failed and the bot has no copy."""
    lead = _("IAK's price list is not available: IAK could not be asked and the bot has no copy.")
    blocks: list[Block] = [section(f":warning: *{lead}*")]
    blocks.extend(_warnings(views, now))
    blocks.append(context(_("Try again in a minute; the bot asks IAK again by then.")))
    reasons = "; ".join(view.error for view in views if view.error)
    text = f"{lead} {reasons}" if reasons else lead
    return message(text, blocks)


def _fields(product: Product) -> list[Mrkdwn]:
    days = product.active_days
    values: list[tuple[str, str]]
    if product.line is Line.POSTPAID:
        values = [
            (_("Biller"), _text(product.name)),
            (_("Admin fee"), rupiah(product.admin_fee)),
            (_("Commission to us"), rupiah(product.commission)),
            (_("Type"), _text(_type(product))),
        ]
        if product.province:
            values.append((_("Province"), _text(product.province)))
    else:
        values = [
            (_("Price"), rupiah(product.price)),
            (_("Nominal"), _text(product.nominal)),
            (_("Operator"), _text(product.name)),
            (_("Type"), _text(_type(product))),
            (_("Active period"), _("{days} days").format(days=days) if days else "—"),
        ]
        if product.details:
            values.append((_("Details"), _text(product.details)))
    return [md("*{}*\n{}", label, value) for label, value in values]


def _type(product: Product) -> str | None:
    parts = [part for part in (product.type, product.category) if part]
    # "pulsa · pulsa" says nothing twice
    return " · ".join(dict.fromkeys(parts)) or None


def _text(value: str | None) -> str:
    return truncate(value, 300) if value else "—"


def _price(product: Product) -> str:
    if product.line is Line.POSTPAID:
        return _("admin fee {amount}").format(amount=rupiah(product.admin_fee))
    return rupiah(product.price)


def _product_line(product: Product) -> Mrkdwn:
    """`xld25000` XL 25000 · Rp24.925 · active · prepaid: one line of a list."""
    described = " ".join(part for part in (product.name, product.nominal) if part)
    words = [
        truncate(described, 80) if described else None,
        _price(product),
        _(ACTIVE_WORDS[product.active]),
        _(LINE_WORDS[product.line]),
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
    return _("Postpaid (bill payment)") if line is Line.POSTPAID else _("Prepaid")


def _warnings(views: Sequence[PriceListView], now: datetime) -> list[Block]:
    """A list answered from an old copy, or missing: said first, where it cannot be missed."""
    blocks: list[Block] = []
    for view in views:
        error = truncate(view.error or _("not fetched yet"), 300)
        postpaid = view.line is Line.POSTPAID
        if view.stale and view.fetched_at is not None:
            title = (
                _("IAK's postpaid price list could not be refreshed")
                if postpaid
                else _("IAK's prepaid price list could not be refreshed")
            )
            old = _("This copy is {age} old: prices and status may have changed since.").format(
                age=duration(now - view.fetched_at)
            )
            blocks.append(section(f":warning: *{title}*: {error}. {old}"))
        elif view.products is None:
            title = _("No postpaid price list") if postpaid else _("No prepaid price list")
            none = _("The bot has no copy of it yet.")
            blocks.append(section(f":warning: *{title}*: {error}. {none}"))
    return blocks


def _ages(views: Sequence[PriceListView], now: datetime) -> list[str]:
    """`IAK prepaid price list (development), fetched 3 min ago` for each list at hand."""
    return [_age(view, now) for view in views if view.fetched_at is not None]


def _age(view: PriceListView, now: datetime) -> str:
    assert view.fetched_at is not None
    if view.line is Line.POSTPAID:
        age = _("IAK postpaid price list ({environment}), fetched {age} ago")
    else:
        age = _("IAK prepaid price list ({environment}), fetched {age} ago")
    age = age.format(environment=view.endpoint.environment, age=duration(now - view.fetched_at))
    return "{} ({})".format(age, _("stale")) if view.stale else age


def _age_words(views: Sequence[PriceListView], line: Line, now: datetime) -> str:
    for view in views:
        if view.line is line and view.fetched_at is not None:
            ago = duration(now - view.fetched_at)
            if view.stale:
                return _("Price list fetched {age} ago (IAK could not be asked again).").format(
                    age=ago
                )
            return _("Price list fetched {age} ago.").format(age=ago)
    return ""
