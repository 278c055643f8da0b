"""Run an ASGI app with uvicorn on a free loopback port, in a thread, for scenario tests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn


class _Server(uvicorn.Server):
    """uvicorn's server, checking for the stop request every 10 ms rather than every 100 ms:
    a test stops a server or more, and the wait added up over the suite."""

    async def main_loop(self) -> None:
        ticks = 0
        while not await self.on_tick(ticks):
            await asyncio.sleep(0.01)
            ticks = (ticks + 1) % 864000


class ServerThread:
    """`with ServerThread(app) as server:` serves `app` at `server.url` until the block ends."""

    def __init__(self, app: Any, *, lifespan: str = "on") -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        # as `iak-bot serve` runs it: the bot, not uvicorn, decides whom X-Forwarded-For speaks for
        config = uvicorn.Config(
            app, log_level="warning", lifespan=lifespan, access_log=False, proxy_headers=False
        )
        self.server = _Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        port = self._sock.getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        if self._sock.fileno() == -1:
            return  # already stopped
        self.server.should_exit = True
        self._thread.join(15)
        self._sock.close()
