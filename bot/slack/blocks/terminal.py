"""Render a Block Kit message as readable terminal text (for `iak-bot code 17` and friends).

Text shows as Slack would show it: mrkdwn with its markup undone (our mentions and dates by
name, links with their URL, escapes back to what was typed), plain text exactly as it is.
"""

from __future__ import annotations

import re
import textwrap

from bot.controls import without_controls
from bot.slack.blocks.text import Block, Message

EMOJI = {
    ":white_check_mark:": "✅",
    ":x:": "❌",
    ":hourglass_flowing_sand:": "⏳",
    ":grey_question:": "❔",
    ":rotating_light:": "🚨",
    ":warning:": "⚠️",
    ":moneybag:": "💰",
    ":mag:": "🔎",
    ":large_green_circle:": "🟢",
    ":red_circle:": "🔴",
    ":white_circle:": "⚪",
    ":bell:": "🔔",
    ":no_bell:": "🔕",
    ":eyes:": "👀",
}
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_MENTION = re.compile(r"<[@#!]([^|>]+)(?:\|([^>]+))?>")
_EMOJI = re.compile(r":[a-z0-9_+\-]+:")


def render(message: Message, *, width: int = 80, bold: bool = False) -> str:
    """The message's blocks as plain lines; `bold` uses ANSI for Slack's *bold*."""
    out: list[str] = []
    for block in message["blocks"]:
        out.extend(_block(block, width, bold))
    return "\n".join(out).rstrip() + "\n"


def _block(block: Block, width: int, bold: bool) -> list[str]:
    kind = block["type"]
    if kind == "header":
        title = _plain(block["text"]["text"])
        return [_bold(title, bold), "=" * min(len(title), width), ""]
    if kind == "section":
        lines: list[str] = []
        if "text" in block:
            lines.extend(_paragraphs(block["text"], width, bold))
        for field in block.get("fields", []):
            lines.extend(_paragraphs(field, width, bold))
        accessory = block.get("accessory")
        if accessory and accessory.get("type") == "button":
            lines.append(_button(accessory))
        return [*lines, ""]
    if kind == "context":
        texts = [_element(element, bold) for element in block["elements"]]
        return [*_wrap("  ".join(texts), width), ""]
    if kind == "actions":
        buttons = [_button(element) for element in block["elements"] if "text" in element]
        return [*buttons, ""] if buttons else []
    if kind == "divider":
        return ["-" * width, ""]
    return []


def _wrap(text: str, width: int) -> list[str]:
    # URLs must survive wrapping whole, so a terminal can still open them.
    return textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False)


def _button(element: Block) -> str:
    label = _plain(element["text"]["text"])
    url = element.get("url")
    return f"  [{label}] {without_controls(url)}" if url else f"  [{label}]"


def _paragraphs(text_object: Block, width: int, bold: bool) -> list[str]:
    raw = text_object["text"]
    if text_object["type"] == "mrkdwn":
        raw = _inline(raw, bold)
    lines: list[str] = []
    for line in raw.split("\n"):
        quoted = line.startswith(">")
        body = line[1:] if quoted else line
        prefix = "│ " if quoted else ""
        wrapped = _wrap(body, width - len(prefix)) or [""]
        lines.extend(prefix + part for part in wrapped)
    return lines


def _element(element: Block, bold: bool) -> str:
    text = str(element.get("text", ""))
    return _inline(text, bold) if element.get("type") == "mrkdwn" else _plain(text)


def _plain(text: str) -> str:
    """A plain_text object: Slack shows it literally, with only its emoji drawn (and no
    control character: a terminal would act on them)."""
    return _EMOJI.sub(lambda m: EMOJI.get(m.group(0), m.group(0)), without_controls(text))


def _inline(text: str, bold: bool) -> str:
    # control characters out before the bot adds its own escape sequences (bold)
    text = without_controls(text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    text = _MENTION.sub(lambda m: m.group(2) or m.group(1), text)
    text = _EMOJI.sub(lambda m: EMOJI.get(m.group(0), m.group(0)), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    if bold:
        text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", lambda m: _bold(m.group(1), True), text)
    else:
        text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"\1", text)
    return text.replace("`", "")


def _bold(text: str, enabled: bool) -> str:
    return f"\033[1m{text}\033[0m" if enabled else text
