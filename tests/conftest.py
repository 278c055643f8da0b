"""Shared fixtures: the registry, fake Slack, settings, and the bot served over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot.app import build_bot
from bot.clock import Clock
from bot.config import Settings
from bot.iak.client import CallLimits
from bot.registry import Registry
from tests.support.bot import (
    IAK_API_KEY,
    IAK_USERNAME,
    MONITOR_INGEST_TOKEN,
    NO_COOLDOWN,
    SIGNING_SECRET,
    RunningBot,
    SettingsFactory,
    bot_server,
    bot_settings,
)
from tests.support.db import (
    TEST_DATABASE_URL,
    migrated_sqlite_template,
    postgres_schema,
    sqlite_copy,
)
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.iak import FakeIak
from tests.support.fakes.server import ServerThread
from tests.support.fakes.slack import FakeSlack
from tests.support.fakes.tcp_proxy import TcpProxy
from tests.support.slack_requests import SlackSender

# Fixtures that serve the whole bot over loopback: a test that uses one (or that starts
# the bot's processes, marked in its module) is a scenario test, marked slow, so that
# `scripts/test.sh -m "not slow"` runs the rest in seconds.
BOT_FIXTURES = frozenset({"start_bot", "running_bot", "shared_bot", "monitored"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if BOT_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry.load()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> Iterator[str]:
    """A migrated, empty database: SQLite always, Postgres when TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        yield sqlite_copy(sqlite_template, tmp_path)
        return
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    with postgres_schema() as url:
        yield url


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def fake_iak() -> Iterator[FakeIak]:
    """IAK's prepaid API on loopback, expecting the test settings' username and key."""
    with FakeIak(IAK_USERNAME, IAK_API_KEY) as fake:
        yield fake


@pytest.fixture
def make_settings(fake_slack: FakeSlack, tmp_path: Path, sqlite_template: Path) -> SettingsFactory:
    """Build test Settings with overrides, on a fresh migrated SQLite database."""

    def make(**overrides: Any) -> Settings:
        if "database_url" not in overrides:
            overrides["database_url"] = sqlite_copy(sqlite_template, tmp_path)
        return bot_settings(fake_slack, tmp_path, **overrides)

    return make


@pytest.fixture
def start_bot(
    make_settings: SettingsFactory, fake_slack: FakeSlack, registry: Registry
) -> Iterator[Callable[..., RunningBot]]:
    """Start the bot (settings overrides as keyword arguments); stopped after the test.

    `iak_limits` shortens the IAK client's timeouts, so hang tests need not wait 10 s.
    `check_cooldown` is off unless given (CHECK_COOLDOWN), so tests may ask IAK in a row.
    """
    stack: list[RunningBot] = []

    def start(
        *,
        iak_limits: CallLimits | None = None,
        clock: Clock | None = None,
        slack_pace_seconds: float = 0.0,
        check_cooldown: timedelta = NO_COOLDOWN,
        **overrides: Any,
    ) -> RunningBot:
        bot = build_bot(
            make_settings(**overrides),
            registry=registry,
            iak_limits=iak_limits,
            clock=clock,
            slack_pace_seconds=slack_pace_seconds,
            check_cooldown=check_cooldown,
        )
        server = ServerThread(bot.web).__enter__()
        sender = SlackSender(server.url, SIGNING_SECRET, fake_slack.base_url + "/response")
        running = RunningBot(bot, server.url, sender, fake_slack, server)
        stack.append(running)
        return running

    yield start
    for running in reversed(stack):
        running.slack.close()
        running.stop()


@pytest.fixture
def running_bot(start_bot: Callable[..., RunningBot]) -> RunningBot:
    """The bot with default test settings."""
    return start_bot()


@pytest.fixture(scope="module")
def shared_bot(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[RunningBot]:
    """One bot for a whole module of tests that only read (answers to commands)."""
    with bot_server(registry, tmp_path_factory.mktemp("shared"), sqlite_template) as running:
        yield running


@pytest.fixture
def clock() -> FakeClock:
    """The bot's clock in scenario tests: it runs like real time, and tests jump it ahead."""
    return FakeClock(running=True)


@pytest.fixture
def monitored(
    start_bot: Callable[..., RunningBot], clock: FakeClock, fake_iak: FakeIak
) -> Callable[..., RunningBot]:
    def start(**overrides: Any) -> RunningBot:
        settings: dict[str, Any] = {
            "monitor_enabled": True,
            "monitor_interval_seconds": 0.05,
            # Tests jump the clock a second or more at a time. With the usual lease of three
            # ticks, each jump would look like a leader stalled past its lease, holding its
            # alerts back until the next tick renewed it: under load, for the whole test.
            "monitor_lease_seconds": 30,
            "ingest_token": MONITOR_INGEST_TOKEN,
            "iak_base_url": fake_iak.url,
            "iak_postpaid_base_url": fake_iak.url,
            "spike_min_failures": 3,
            **overrides,
        }
        return start_bot(clock=clock, **settings)

    return start


@pytest.fixture
def proxied_postgres() -> Iterator[tuple[str, TcpProxy]]:
    """A fresh Postgres schema reached through a loopback proxy the test can stall."""
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    with postgres_schema() as url:
        parsed = make_url(url)
        proxy = TcpProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
        try:
            yield parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(False), proxy
        finally:
            proxy.close()
