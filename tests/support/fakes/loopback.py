"""What the fake Slack and the fake IAK share: an HTTP server on a free loopback port in a
thread of its own, that hands every POST to the fake and sends back what it answers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """What a fake sends back: `drop` closes the connection without a word instead."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # listen() backlog: the default 5 drops SYNs when a burst connects at once, and the
    # kernel retries them a second later.
    request_queue_size = 128


class LoopbackServer:
    """Serves `answer` on 127.0.0.1 with a free port; use as a context manager."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._closing = threading.Event()
        # requests being answered right now, and the most there ever were at once
        self.in_flight = 0
        self.max_in_flight = 0
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._closing.set()  # ends every delayed answer at once
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, path: str, raw: bytes, headers: dict[str, str], client_port: int) -> Answer:
        """The fake's reply to one POST or GET (called on the server's thread); a GET's
        arguments are in the path's query string."""
        raise NotImplementedError

    def _changed(self) -> None:
        """Wake whoever waits in `_wait_for` (call with the lock held)."""
        self._lock.notify_all()

    def _wait_for(self, found: Callable[[], T | None], timeout: float, failure: str) -> T:
        """Block until `found()` (called with the lock held) returns something; else fail."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                result = found()
                if result is not None:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(failure)
                self._lock.wait(remaining)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes: without this, Nagle's algorithm and
                # the client's delayed ACK add ~40 ms to every answer.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                with fake._lock:
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    self._serve()
                finally:
                    with fake._lock:
                        fake.in_flight -= 1

            # Some Web API methods (users.info) are GETs in slack_sdk.
            do_GET = do_POST

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                reply = fake.answer(self.path, raw, dict(self.headers), self.client_address[1])
                if reply.delay and fake._closing.wait(reply.delay):
                    self.close_connection = True
                    return
                if reply.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *_: Any) -> None:
                pass

        return Handler
