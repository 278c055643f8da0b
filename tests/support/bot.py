"""The bot under test: its test settings and secrets, and the bot served over loopback HTTP
with a signed Slack sender (the fixtures that start it are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.app import Bot, build_bot
from bot.config import Settings
from bot.iak.client import CallLimits
from bot.registry import Registry
from tests.support.db import sqlite_copy
from tests.support.fakes.server import ServerThread
from tests.support.fakes.slack import FakeSlack
from tests.support.slack_requests import SlackSender

SIGNING_SECRET = "test-signing-secret-8c1f"
BOT_TOKEN = "xoxb-test-token"
IAK_USERNAME = "082210138584"
IAK_API_KEY = "test-iak-api-key"
# Nothing listens on the discard port: a test that forgets to point the bot at the fake
# IAK gets "unreachable", never the real IAK.
NO_IAK_URL = "http://127.0.0.1:9"
# Test bots let one person ask IAK again at once (many tests check in a row as one user);
# the tests of the cooldown itself give it.
NO_COOLDOWN = timedelta(0)


MONITOR_INGEST_TOKEN = "ingest-token-for-monitor-tests"


SettingsFactory = Callable[..., Settings]


def bot_settings(fake_slack: FakeSlack, directory: Path, **overrides: Any) -> Settings:
    """Settings for a test bot: fake Slack, a throwaway database, overrides on top."""
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": fake_slack.api_url,
        "ops_channel": "C0ALERTS",
        "iak_username": IAK_USERNAME,
        "iak_api_key": IAK_API_KEY,
        "iak_base_url": NO_IAK_URL,
        "iak_postpaid_base_url": NO_IAK_URL,
        "database_url": f"sqlite:///{directory}/iak_bot.db",
        "monitor_enabled": False,
        # Alert tests count what reaches the channel: the daily digest only where asked for.
        "digest_time": "",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class RunningBot:
    """The bot served over loopback HTTP, with a signed Slack sender and the fake Slack."""

    bot: Bot
    url: str
    slack: SlackSender
    fake_slack: FakeSlack
    server: ServerThread | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        """Stop this bot's server (the fixtures stop any still running at the end)."""
        if self.server is not None:
            self.server.__exit__(None, None, None)
        for close in self.closers:
            close()
        self.closers.clear()


@contextmanager
def bot_server(
    registry: Registry,
    directory: Path,
    sqlite_template: Path,
    *,
    iak_limits: CallLimits | None = None,
    check_cooldown: timedelta = NO_COOLDOWN,
    **overrides: Any,
) -> Iterator[RunningBot]:
    """A bot with its own fake Slack and database, served until the block ends."""
    with FakeSlack() as fake:
        overrides.setdefault("database_url", sqlite_copy(sqlite_template, directory))
        settings = bot_settings(fake, directory, **overrides)
        bot = build_bot(
            settings, registry=registry, iak_limits=iak_limits, check_cooldown=check_cooldown
        )
        with ServerThread(bot.web) as server:
            sender = SlackSender(server.url, SIGNING_SECRET, fake.base_url + "/response")
            try:
                yield RunningBot(bot, server.url, sender, fake)
            finally:
                sender.close()
