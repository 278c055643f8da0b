"""`iak-bot socket`: the same answers over a Socket Mode WebSocket, as Slack sends them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from tests.support.cli import clean_env
from tests.support.fakes.slack import FakeSlack, Reply

# scenario tests: the bot runs whole, over loopback or as processes
pytestmark = pytest.mark.slow


class FakeSocketModeServer:
    """A WebSocket endpoint that delivers one envelope and records the bot's acknowledgement."""

    def __init__(self, envelope: dict[str, Any]) -> None:
        self.envelope = envelope
        self.acks: list[dict[str, Any]] = []
        self.acked = threading.Event()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/link", self._socket)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        await ws.send_str(json.dumps(self.envelope))
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.acks.append(json.loads(message.data))
                self.acked.set()
        return ws

    def __enter__(self) -> FakeSocketModeServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def socket_server() -> Iterator[FakeSocketModeServer]:
    envelope = {
        "envelope_id": "env-1",
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "token": "x",
            "team_id": "T0TEAM",
            "team_domain": "acme",
            "channel_id": "C0OPS0001",
            "channel_name": "ops",
            "user_id": "U0OPS0001",
            "user_name": "ops.person",
            "command": "/iak",
            "text": "code 17",
            "api_app_id": "A0IAKBOT",
            "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.invalid/commands/1",
            "trigger_id": "1.2.3",
        },
    }
    with FakeSocketModeServer(envelope) as server:
        yield server


def test_socket_mode_answers_a_slash_command(
    socket_server: FakeSocketModeServer, tmp_path: Path
) -> None:
    with FakeSlack() as fake:
        fake.script(
            "apps.connections.open",
            Reply(200, {"ok": True, "url": f"ws://127.0.0.1:{socket_server.port}/link"}),
        )
        env = clean_env(
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_APP_TOKEN="xapp-test",
            SLACK_API_URL=fake.api_url,
            MONITOR_ENABLED="false",
        )
        migrated = subprocess.run(
            [sys.executable, "-m", "bot", "migrate"], cwd=tmp_path, env=env, check=False
        )
        assert migrated.returncode == 0
        log = (tmp_path / "socket.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "socket"], cwd=tmp_path, env=env, stdout=log, stderr=log
        )
        try:
            assert socket_server.acked.wait(30), (tmp_path / "socket.log").read_text()
        finally:
            process.terminate()
            process.wait(15)
            log.close()
        ack = socket_server.acks[0]
        assert ack["envelope_id"] == "env-1"
        assert ack["payload"]["response_type"] == "ephemeral"
        assert ack["payload"]["blocks"][0]["text"]["text"] == "17 · INSUFFICIENT DEPOSIT"
        # the app token opened the connection; the bot token was never needed for it
        (opened,) = fake.calls_to("apps.connections.open")
        assert opened.headers["Authorization"] == "Bearer xapp-test"
