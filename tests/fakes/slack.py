"""A loopback fake of Slack's Web API and of `response_url`, recording every call.

The bot under test points SLACK_API_URL at `api_url`, so the real slack_sdk builds
real requests. Tests can script answers per method: 429 with Retry-After, `ok: false`
errors, 5xx, or the whole service down.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

RESPONSE_URL_METHOD = "response_url"


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    method: str
    args: dict[str, Any]
    path: str
    headers: dict[str, str]
    at: float
    # what the fake answered (filled in after the call is recorded)
    answer: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """A scripted answer: HTTP status, JSON body and headers."""

    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class _Server(ThreadingHTTPServer):
    # listen() backlog: the default 5 drops SYNs when many cards are posted at once, and
    # the kernel retries them a second later.
    request_queue_size = 128


class FakeSlack:
    """Slack's Web API on 127.0.0.1 with a free port; use as a context manager."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Condition()
        self._scripts: dict[str, deque[Reply]] = {}
        self._down: str | None = None
        self._ts = 0
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL should be."""
        return f"{self.base_url}/api/"

    def response_url(self, key: str = "r1") -> str:
        """A `response_url` whose posts are recorded under `key`."""
        return f"{self.base_url}/response/{key}"

    # Scripting -----------------------------------------------------------------
    def script(self, method: str, *replies: Reply) -> None:
        """Answer the next calls of `method` with these replies, in order."""
        with self._lock:
            self._scripts.setdefault(method, deque()).extend(replies)

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 and Retry-After."""
        reply = Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
        self.script(method, *[reply] * times)

    def fail(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with `ok: false` and `error`."""
        self.script(method, *[Reply(200, {"ok": False, "error": error})] * times)

    def set_down(self, mode: str | None = "503") -> None:
        """Make every call fail: "503" answers 503, "reset" drops the connection; None heals."""
        with self._lock:
            self._down = mode

    # Inspection ----------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        """Every recorded call of `method` (a Web API method or `response_url`)."""
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def responses(self, key: str = "r1") -> list[dict[str, Any]]:
        """Every payload posted to `response_url(key)`."""
        with self._lock:
            return [
                call.args
                for call in self.calls
                if call.method == RESPONSE_URL_METHOD and call.path.endswith(f"/{key}")
            ]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until `method` has been called `count` times; fail the test otherwise."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [call for call in self.calls if call.method == method]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} call(s) to {method} within {timeout}s, got {len(found)}"
                    )
                self._lock.wait(remaining)

    def wait_for_response(
        self, key: str = "r1", count: int = 1, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Block until `count` payloads reached `response_url(key)`."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.responses(key)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} response(s) at {key}, got {len(found)}")
            time.sleep(0.01)

    # Serving -------------------------------------------------------------------
    def _answer(self, method: str, args: dict[str, Any]) -> Reply:
        with self._lock:
            if self._down == "503":
                return Reply(503, {"ok": False, "error": "service_unavailable"})
            queue = self._scripts.get(method)
            if queue:
                return queue.popleft()
            if method == RESPONSE_URL_METHOD:
                return Reply(200, None)
            return Reply(200, self._default(method, args))

    def _default(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T0TEAM"}
        if method == "chat.postMessage":
            self._ts += 1
            ts = f"1700000000.{self._ts:06d}"
            return {"ok": True, "channel": args.get("channel"), "ts": ts, "message": args}
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        return {"ok": True}

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)
            self._lock.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8")
                if self.path.startswith("/response/"):
                    method = RESPONSE_URL_METHOD
                elif self.path.startswith("/api/"):
                    method = self.path[len("/api/") :].split("?")[0]
                else:
                    self.send_error(404)
                    return
                args = _parse(raw, self.headers.get("Content-Type", ""))
                with fake._lock:
                    down = fake._down
                if down == "reset":
                    self.close_connection = True
                    self.connection.close()
                    return
                call = Call(method, args, self.path, dict(self.headers), time.monotonic())
                fake._record(call)
                reply = fake._answer(method, args)
                call.answer.update(reply.body or {})
                call.answer["_status"] = reply.status
                if reply.delay:
                    time.sleep(reply.delay)
                body = b"ok" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                content_type = "text/plain" if reply.body is None else "application/json"
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


def _parse(raw: str, content_type: str) -> dict[str, Any]:
    if "json" in content_type:
        parsed = json.loads(raw or "{}")
        return parsed if isinstance(parsed, dict) else {"_": parsed}
    args: dict[str, Any] = dict(parse_qsl(raw, keep_blank_values=True))
    for key in ("blocks", "attachments", "view", "metadata"):
        if isinstance(args.get(key), str):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(args[key])
    return args
