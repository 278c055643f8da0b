"""Block Kit builders shared by the cards: the one place text becomes a text object.

Every builder that makes a mrkdwn text object (`mrkdwn`, `section`, `context`, `fields`) or
a message's `text` fallback (`message`) escapes a plain `str`, so what came from outside
shows as typed, and sends a `Mrkdwn` (see `bot.slack.blocks.markup`) as written; the text
objects are verbatim, so Slack links nothing the bot did not write as a link. Plain-text
objects (`plain`, headers, buttons) are shown literally by Slack and are never escaped.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NotRequired, Required, TypedDict

from babel.numbers import format_decimal

from bot.i18n import _, babel_locale
from bot.slack.blocks.durations import duration
from bot.slack.blocks.markup import ELLIPSIS, Mrkdwn, as_mrkdwn, cut

Block = dict[str, Any]
# Slack takes up to 4,000; a fallback is the gist, and notifications show far less.
MAX_FALLBACK = 3000


class Message(TypedDict, total=False):
    """A Slack message: blocks plus the `text` fallback every message needs (built by
    `message`, which makes it safe markup)."""

    text: Required[Mrkdwn]
    blocks: Required[list[Block]]
    response_type: NotRequired[str]
    replace_original: NotRequired[bool]


def message(text: str, blocks: list[Block]) -> Message:
    """A message: its blocks, and `text` as the fallback notifications and screen readers
    get (a plain `str` escaped, as Slack parses the fallback for mentions too)."""
    return {"text": cut(as_mrkdwn(text), MAX_FALLBACK), "blocks": blocks}


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def rupiah(amount: int | None) -> str:
    """`25000` → `Rp25.000`; `—` when unknown.

    Rupiah are written the Indonesian way in every language (as on every price list and
    receipt the ops team reads), with Babel's Indonesian grouping."""
    if amount is None:
        return "—"
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{format_decimal(abs(amount), locale='id')}"


def number(count: float | None) -> str:
    """A count with the current language's grouping: `12,345` in English, `12.345` in
    Indonesian; `—` when unknown."""
    if count is None:
        return "—"
    return format_decimal(count, locale=babel_locale())


def failure_note(error_id: str) -> Message:
    """Something broke on our side: the id to quote, and that trying again is fine."""
    text = ":warning: " + _(
        "Sorry, that failed on our side (error id {error_id}). "
        "It has been logged; please try again in a moment."
    ).format(error_id=error_id)
    return message(text, [section(text)])


def recheck_cooldown(wait: timedelta) -> str:
    """A check at IAK (a Recheck, a status, the balance) asked for again too soon: how long
    until it works."""
    return _("You asked IAK a moment ago: try again in {duration}.").format(duration=duration(wait))


def search_cooldown(wait: timedelta) -> str:
    """A search of the stored transactions asked for again too soon: how long until it works."""
    return _("You searched a moment ago: try again in {duration}.").format(duration=duration(wait))


def note(text: str) -> Message:
    """A short answer in one section."""
    return message(text, [section(text)])


def plain(text: str, limit: int = 3000) -> Block:
    """A plain_text object: Slack renders it literally, so user input is safe in it."""
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def mrkdwn(text: str, limit: int = 3000) -> Block:
    """A mrkdwn text object, cut to the limit: a plain `str` escaped, `Mrkdwn` as written.

    Verbatim, so Slack turns no bare URL, `#channel` or `@name` in it into a link or a
    mention of its own accord: outside text (IAK's messages, a product's name) is in most of
    them, and the bot's own links and mentions are written out as `<…>`, which Slack still
    honours."""
    return {"type": "mrkdwn", "text": cut(as_mrkdwn(text), limit), "verbatim": True}


def header(text: str) -> Block:
    """A header block (plain text, 150 characters at most)."""
    return {"type": "header", "text": plain(text, 150)}


def section(text: str, *, block_id: str | None = None) -> Block:
    """A mrkdwn section block, cut to the 3,000-character limit."""
    block: Block = {"type": "section", "text": mrkdwn(text, 3000)}
    if block_id:
        block["block_id"] = block_id[:255]
    return block


def plain_section(text: str) -> Block:
    """A section whose text is shown literally (for echoing what a user typed)."""
    return {"type": "section", "text": plain(text, 3000)}


def context(*texts: str) -> Block:
    """A context block of mrkdwn elements (10 at most)."""
    return {"type": "context", "elements": [mrkdwn(text, 3000) for text in texts[:10]]}


def fields(*texts: str) -> Block:
    """A section of mrkdwn fields, shown in two columns (10 at most, 2,000 characters each)."""
    return {"type": "section", "fields": [mrkdwn(text, 2000) for text in texts[:10]]}


def divider() -> Block:
    """A divider block."""
    return {"type": "divider"}


def link_button(text: str, url: str, action_id: str) -> Block:
    """A button that opens a URL."""
    return {
        "type": "button",
        "text": plain(text, 75),
        "url": url[:3000],
        "action_id": action_id[:255],
    }


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    """A button that sends an interaction to the bot."""
    element: Block = {
        "type": "button",
        "text": plain(text, 75),
        "action_id": action_id[:255],
        "value": value[:2000],
    }
    if style:
        element["style"] = style
    return element


def actions(*elements: Block, block_id: str | None = None) -> Block:
    """An actions block (25 elements at most)."""
    block: Block = {"type": "actions", "elements": list(elements[:25])}
    if block_id:
        block["block_id"] = block_id[:255]
    return block
