"""Small text helpers shared by the card builders."""

from __future__ import annotations

from typing import Any, NotRequired, Required, TypedDict

Block = dict[str, Any]


class Message(TypedDict, total=False):
    """A Slack message: blocks plus the plain `text` fallback every message needs."""

    text: Required[str]
    blocks: Required[list[Block]]
    response_type: NotRequired[str]
    replace_original: NotRequired[bool]


ELLIPSIS = "…"


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def rupiah(amount: int | None) -> str:
    """`25000` → `Rp25.000`, with Indonesian thousands dots; `—` when unknown."""
    if amount is None:
        return "—"
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{abs(amount):,}".replace(",", ".")


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control (`& < >`)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def failure_note(error_id: str) -> Message:
    """Something broke on our side: the id to quote, and that trying again is fine."""
    text = (
        f":warning: Sorry, that failed on our side (error id {error_id}). "
        "It has been logged; please try again in a moment."
    )
    return {"text": text, "blocks": [section(text)]}


def note(text: str) -> Message:
    """A short answer in one section (mrkdwn, so what came from outside must be escaped)."""
    return {"text": truncate(text, 3000), "blocks": [section(text)]}


def plain(text: str, limit: int = 3000) -> dict[str, Any]:
    """A plain_text object: Slack renders it literally, so user input is safe in it."""
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def mrkdwn(text: str, limit: int = 3000) -> dict[str, Any]:
    """A mrkdwn text object, cut to the limit."""
    return {"type": "mrkdwn", "text": truncate(text, limit)}


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
