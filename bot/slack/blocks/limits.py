"""Slack's Block Kit limits, checked on a whole message or view.

slack_sdk validates most per-element limits, but not blocks per message nor the
2,000 characters per section field, and Slack refuses messages (`msg_blocks_too_long`)
well below the documented limits at about 13,000 characters in total.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from bot.slack.blocks.text import Block

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_BUTTON_URL = 3000
MAX_ACTION_ID = 255
MAX_BLOCK_ID = 255
# Slack has refused real messages at about 13,000 characters of blocks; stay clear of it.
MAX_MESSAGE_CHARS = 12000
MAX_TEXT_FALLBACK = 4000


def problems(payload: Block, *, surface: str = "message") -> list[str]:
    """Every Block Kit limit a message (or a `home`/`modal` view) breaks; empty when valid."""
    blocks = payload.get("blocks", [])
    found: list[str] = []
    limit = MAX_VIEW_BLOCKS if surface in ("home", "modal") else MAX_MESSAGE_BLOCKS
    if len(blocks) > limit:
        found.append(f"{len(blocks)} blocks, limit {limit}")
    if surface == "message":
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            found.append("no plain-text `text` fallback")
        elif len(text) > MAX_TEXT_FALLBACK:
            found.append(f"text fallback {len(text)} chars, limit {MAX_TEXT_FALLBACK}")
        size = len(json.dumps(blocks, ensure_ascii=False))
        if size > MAX_MESSAGE_CHARS:
            found.append(f"blocks total {size} chars, limit {MAX_MESSAGE_CHARS}")
    for index, block in enumerate(blocks):
        found.extend(f"block {index} ({block.get('type')}): {p}" for p in _block_problems(block))
    block_ids = [str(block["block_id"]) for block in blocks if "block_id" in block]
    found.extend(f"block_id {key!r} used twice" for key in _repeated(block_ids))
    return found


def _block_problems(block: Block) -> Iterator[str]:
    kind = block.get("type")
    if len(str(block.get("block_id", ""))) > MAX_BLOCK_ID:
        yield "block_id too long"
    if kind == "header":
        text = block["text"]
        if text.get("type") != "plain_text":
            yield "header text must be plain_text"
        yield from _length("header text", text.get("text", ""), MAX_HEADER_TEXT, minimum=1)
    elif kind == "section":
        if "text" not in block and "fields" not in block:
            yield "section needs text or fields"
        if "text" in block:
            yield from _length("section text", block["text"].get("text", ""), MAX_SECTION_TEXT, 1)
        fields = block.get("fields", [])
        if len(fields) > MAX_FIELDS:
            yield f"{len(fields)} fields, limit {MAX_FIELDS}"
        for field in fields:
            yield from _length("field", field.get("text", ""), MAX_FIELD_TEXT, minimum=1)
        if "accessory" in block:
            yield from _element_problems(block["accessory"])
    elif kind == "context":
        elements = block.get("elements", [])
        if not 1 <= len(elements) <= MAX_CONTEXT_ELEMENTS:
            yield f"{len(elements)} context elements, allowed 1-{MAX_CONTEXT_ELEMENTS}"
        for element in elements:
            if element.get("type") in ("mrkdwn", "plain_text"):
                yield from _length("context text", element.get("text", ""), MAX_SECTION_TEXT, 1)
    elif kind == "actions":
        elements = block.get("elements", [])
        if not 1 <= len(elements) <= MAX_ACTIONS_ELEMENTS:
            yield f"{len(elements)} actions elements, allowed 1-{MAX_ACTIONS_ELEMENTS}"
        for element in elements:
            yield from _element_problems(element)
        # Slack refuses the message (invalid_blocks) when two elements of a block share one.
        action_ids = [str(e["action_id"]) for e in elements if "action_id" in e]
        yield from (f"action_id {key!r} used twice" for key in _repeated(action_ids))
    elif kind not in ("divider", "image", "rich_text", "input", "file", "video"):
        yield f"unknown block type {kind!r}"


def _element_problems(element: Block) -> Iterator[str]:
    if len(str(element.get("action_id", ""))) > MAX_ACTION_ID:
        yield "action_id too long"
    if element.get("type") == "button":
        yield from _length("button text", element["text"].get("text", ""), MAX_BUTTON_TEXT, 1)
        yield from _length("button value", element.get("value", ""), MAX_BUTTON_VALUE)
        yield from _length("button url", element.get("url", ""), MAX_BUTTON_URL)
    for option in element.get("options", []):
        yield from _length("option text", option["text"].get("text", ""), MAX_BUTTON_TEXT, 1)
        yield from _length("option value", option.get("value", ""), 150)


def _repeated(keys: list[str]) -> list[str]:
    return sorted({key for key in keys if keys.count(key) > 1})


def _length(what: str, text: str, limit: int, minimum: int = 0) -> Iterator[str]:
    if len(text) > limit:
        yield f"{what} {len(text)} chars, limit {limit}"
    if len(text) < minimum:
        yield f"{what} is empty"
