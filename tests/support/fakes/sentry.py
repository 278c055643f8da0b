"""Sentry's ingest endpoint on loopback: records every envelope the SDK sends."""

from __future__ import annotations

import gzip
import json
from typing import Any

from tests.support.fakes.loopback import Answer, LoopbackServer


class FakeSentry(LoopbackServer):
    """`with FakeSentry() as sentry:` then SENTRY_DSN=sentry.dsn; `envelopes` holds what came."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[str] = []

    @property
    def dsn(self) -> str:
        """A DSN for project 1 on this server."""
        return self.base_url.replace("://", "://publickey@") + "/1"

    def answer(self, path: str, raw: bytes, headers: dict[str, str], client_port: int) -> Answer:
        encoding = {name.lower(): value for name, value in headers.items()}.get(
            "content-encoding", ""
        )
        text = (gzip.decompress(raw) if encoding == "gzip" else raw).decode("utf-8", "replace")
        with self._lock:
            self.envelopes.append(text)
            self._changed()
        return Answer(200, b'{"id": "0"}')

    def wait_for_event(self, timeout: float = 10.0) -> tuple[str, dict[str, Any]]:
        """The first error event received, as the envelope's text and the event itself."""

        def found() -> tuple[str, dict[str, Any]] | None:
            for envelope in self.envelopes:
                event = _event_of(envelope)
                if event is not None:
                    return envelope, event
            return None

        return self._wait_for(found, timeout, "no event reached the fake Sentry")


def _event_of(envelope: str) -> dict[str, Any] | None:
    """The `event` item of an envelope (header line, then item header and payload lines)."""
    lines = envelope.split("\n")
    for header, payload in zip(lines[1::2], lines[2::2], strict=False):
        if json.loads(header).get("type") == "event":
            event: dict[str, Any] = json.loads(payload)
            return event
    return None
