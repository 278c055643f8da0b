"""The ASGI plumbing the fast routes share: types, reading a bounded body and its headers,
and writing an answer."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal

from pydantic import BaseModel

from bot.shapes import Json

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# One encoder for every answer: json.dumps with options builds a new one per call.
JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


JSON_TYPE = (b"content-type", b"application/json")


# An answer as sent: status, body, headers (without content-length).
Raw = tuple[int, bytes, list[tuple[bytes, bytes]]]


# An intake answer: status, JSON body, extra headers.
Answer = tuple[int, Json, list[tuple[bytes, bytes]]]


class ErrorAnswer(BaseModel):
    """Nothing was stored; `error` says why."""

    ok: Literal[False] = False
    error: str


async def send_json(send: Send, answer: Answer) -> None:
    status, content, headers = answer
    await send_raw(send, status, JSON.encode(content).encode(), [JSON_TYPE, *headers])


async def send_raw(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    """Send an answer as raw ASGI messages: what a Starlette Response sends, for less work."""
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})


def headers_of(scope: Scope, *names: bytes) -> dict[bytes, str | None]:
    """The named headers (names in lower case), None when absent. A header sent on several
    lines is one comma-separated list, as HTTP defines it: a proxy's X-Forwarded-For can be
    split over lines, and a repeated Authorization then matches no token."""
    found: dict[bytes, str | None] = dict.fromkeys(names)
    for name, value in scope["headers"]:
        if name in found:
            text = value.decode("latin-1")
            before = found[name]
            found[name] = text if before is None else f"{before}, {text}"
    return found


async def receive_body(receive: Receive, declared: str | None, limit: int) -> bytes | None:
    """The request body, or None once it is known to exceed `limit` bytes."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
