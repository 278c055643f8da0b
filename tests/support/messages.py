"""Reading what the bot answered: Slack messages as a user sees them, and Block Kit limits."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from slack_sdk.models.blocks import Block

from bot.slack.blocks import limits
from bot.slack.blocks.text import Message


def answer(response: Any) -> dict[str, Any]:
    """The ephemeral message the user sees: the ack's JSON body."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert body["text"].strip()
    return dict(body)


def visible_text(message: dict[str, Any]) -> str:
    """Every string a user could read in the message, Slack escapes undone."""
    parts: list[str] = [message.get("text", "")]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks", []))
    return html.unescape("\n".join(parts))


def header(message: dict[str, Any]) -> str:
    """The text of the message's first block, which must be its header."""
    first = message["blocks"][0]
    assert first["type"] == "header"
    return str(first["text"]["text"])


def text_objects(node: Any) -> list[dict[str, Any]]:
    """Every mrkdwn and plain_text object inside a message, view or block."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and "text" in node:
            found.append(node)
        for value in node.values():
            found.extend(text_objects(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(text_objects(item))
    return found


def assert_valid(message: Message | dict[str, Any], surface: str = "message") -> None:
    """Our limits (incl. the two slack_sdk skips) and slack_sdk's own validation."""
    payload = dict(message)
    if surface != "message":
        payload.setdefault("text", "view")
    assert limits.problems(payload, surface=surface) == []
    for block in message["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.to_dict()  # raises SlackObjectFormationError past a limit slack_sdk knows


def all_text(message: Message) -> str:
    """The message's blocks as JSON text, for substring checks."""
    return json.dumps(message["blocks"], ensure_ascii=False)


def shown(message: Message) -> str:
    """Everything a reader could see or a notification could carry."""
    return message["text"] + "\n" + all_text(message)


def mrkdwn_texts(node: Any) -> list[str]:
    """Every mrkdwn string in the blocks: where Slack would act on markup."""
    if isinstance(node, list):
        return [text for item in node for text in mrkdwn_texts(item)]
    if not isinstance(node, dict):
        return []
    found = [node["text"]] if node.get("type") == "mrkdwn" else []
    return found + [text for value in node.values() for text in mrkdwn_texts(value)]


def markup_texts(payload: Any) -> list[str]:
    """Every text Slack reads as markup in a payload (a message, an ack, a response_url post,
    a chat call's arguments or a view): its `text` fallback, which notifications parse too,
    and every mrkdwn object."""
    fallback = payload.get("text") if isinstance(payload, dict) else None
    return ([fallback] if isinstance(fallback, str) else []) + mrkdwn_texts(payload)


_CONTROL = re.compile(r"<([^<>]*)>")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}


def controls(text: str) -> list[str]:
    """What Slack acts on in a mrkdwn text: the inside of each `<…>` (a mention, a special
    mention such as `!channel`, a channel, a date, a link)."""
    return _CONTROL.findall(text)


def stray_brackets(text: str) -> bool:
    """Whether a `<` is left outside every `<…>`: a cut control Slack may join to the next `>`."""
    return "<" in _CONTROL.sub("", text)


def as_shown(text: str) -> str:
    """A mrkdwn text as a reader sees it: a control as its label (or what it names), the three
    escapes undone once, as Slack does."""

    def label(match: re.Match[str]) -> str:
        target, _, title = match.group(1).partition("|")
        return title or target

    return re.sub("&(?:lt|gt|amp);", lambda m: _ENTITIES[m.group(0)], _CONTROL.sub(label, text))
