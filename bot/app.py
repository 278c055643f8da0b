"""Build the whole bot from Settings: the one wiring place."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from fastapi import FastAPI
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

from bot.asgi import ASGIApp
from bot.background import BackgroundTasks
from bot.clock import Clock, SystemClock
from bot.config import (
    ConfigError,
    DatabaseUnreachable,
    Settings,
    load_settings,
    required_for_slack,
)
from bot.cooldown import CHECK_COOLDOWN, Cooldown
from bot.error_tracking import start_error_tracking
from bot.health import health_report, setting_warnings
from bot.iak.client import CallLimits, IakClient
from bot.incidents.repository import IncidentRepository
from bot.intake import Intake
from bot.logs import setup_logging
from bot.metrics import Metrics, MetricsPage
from bot.price_lists import PriceLists
from bot.registry import Registry
from bot.services import Services
from bot.slack import listeners
from bot.slack.alerts.alerting import Alerting, build_alerting
from bot.slack.locales import PersonLanguages
from bot.slack.workspace import Workspace
from bot.store.callbacks import CallbackRefusals
from bot.store.database import Database
from bot.store.price_lists import PriceListRepository
from bot.web import create_web

log = logging.getLogger(__name__)

# Heroku sends SIGKILL 30 s after SIGTERM; we aim to be gone within 10 s: uvicorn gives
# in-flight requests 3 s (cli.py), then alerts and background answers share this.
SHUTDOWN_GRACE_SECONDS = 5.0
# How often a bot that started without its database checks whether it is back.
DATABASE_RECHECK_SECONDS = 2.0


@dataclass
class Bot:
    """Everything `serve` and `socket` run: the Bolt app, the HTTP app and their services."""

    services: Services
    slack: AsyncApp
    # what the HTTP server runs (bot.web.create_web)
    web: ASGIApp
    alerting: Alerting | None = None
    # refused callbacks, counted here and written a burst at a time
    refusals: CallbackRefusals | None = None
    # rechecks the schema while the database has not answered since the start
    _awaiting_database: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    async def start(self) -> None:
        """Check the schema, start the database writer and (if enabled) the monitor.

        A database that does not answer does not stop the start: the bot serves what needs
        no database, answers 503 for the rest (IAK retries its callbacks), and checks the
        schema once the database is back. A schema that does not fit stops it."""
        # Everything built so far lives as long as the process. Freezing it keeps the
        # collector from re-walking it on every full collection, a pause long enough to be
        # the slowest callback under load; now collections only see what requests made.
        gc.collect()
        gc.freeze()
        try:
            self.services.database.require_migrated()
        except DatabaseUnreachable as exc:
            log.warning("starting without the database, 503 until it answers: %s", exc)
            self._awaiting_database = asyncio.create_task(
                self._await_database(), name="await-database"
            )
        self.services.database.writer.start()
        if self.alerting is not None and self.services.settings.monitor_enabled:
            # its ticks fail (logged) while the database is away, and resume when it is back
            self.alerting.start()

    async def _await_database(self) -> None:
        """Check the schema again until the database answers; a schema that does not fit
        then stops the process, as it would have at start."""
        while True:
            await asyncio.sleep(DATABASE_RECHECK_SECONDS)
            try:
                await asyncio.to_thread(self.services.database.require_migrated)
            except DatabaseUnreachable:
                continue
            except ConfigError as exc:
                log.error("the database is back, with a schema this code cannot use: %s", exc)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            log.info("the database answers again, its schema is current")
            return

    async def stop(self) -> None:
        """Finish in-flight work (answers to Slack, queued alerts and writes), then close."""
        if self._awaiting_database is not None:
            self._awaiting_database.cancel()
        work = [self.services.background.drain(SHUTDOWN_GRACE_SECONDS)]
        if self.alerting is not None:
            work.append(self.alerting.stop(SHUTDOWN_GRACE_SECONDS))
        await asyncio.gather(*work)
        self.services.database.close()
        if self.services.iak is not None:
            await self.services.iak.aclose()


def build_slack_app(
    services: Services,
    *,
    alerting: Alerting | None = None,
    socket_mode: bool = False,
    client: AsyncWebClient | None = None,
) -> AsyncApp:
    """The Bolt app with every listener registered."""
    settings = services.settings
    token = settings.slack_bot_token or ""
    # No token on Bolt's client: `authorize` hands Bolt the token for each request.
    client = client or AsyncWebClient(base_url=settings.slack_api_url)

    async def authorize(**_: object) -> AuthorizeResult:
        # One workspace, one token: no auth.test round trip before the first answer,
        # so `/iak code` works even while Slack's Web API is unreachable.
        return AuthorizeResult(enterprise_id=None, team_id=None, bot_token=token)

    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret or "",
        # Over Socket Mode, Slack's requests arrive on our own authenticated WebSocket.
        request_verification_enabled=not socket_mode,
        authorize=authorize,
        # Listeners ack first and hand slow work to BackgroundTasks, so the HTTP answer is
        # the ack itself and shutdown can wait for what is still running.
        process_before_response=True,
    )
    # Before any listener: each answer is written in the asker's language.
    app.use(PersonLanguages(settings.bot_language, services.clock, services.background).middleware)
    listeners.register(app, services, alerting)
    return app


def build_iak_client(
    settings: Settings,
    registry: Registry,
    *,
    limits: CallLimits | None = None,
    metrics: Metrics | None = None,
) -> IakClient | None:
    """The process's one IAK client, or None while the IAK credentials are unset.

    The bot still serves `/iak code` without them; the IAK commands say what to set.
    """
    if not (settings.iak_username and settings.iak_api_key):
        return None
    observe = metrics.iak_call if metrics is not None else None
    return IakClient.from_settings(settings, registry, limits=limits, observe=observe)


def build_services(
    settings: Settings,
    *,
    registry: Registry | None = None,
    clock: Clock | None = None,
    iak_limits: CallLimits | None = None,
    check_cooldown: timedelta = CHECK_COOLDOWN,
) -> Services:
    """The shared parts every entry point needs; nothing connects yet."""
    registry = registry or Registry.load()
    database = Database(settings.database_url)
    clock = clock or SystemClock()
    metrics = Metrics(registry)
    iak = build_iak_client(settings, registry, limits=iak_limits, metrics=metrics)
    price_lists = (
        PriceLists(iak, PriceListRepository(database.engine), clock) if iak is not None else None
    )
    return Services(
        settings=settings,
        registry=registry,
        background=BackgroundTasks(),
        database=database,
        clock=clock,
        incidents=IncidentRepository(database.engine),
        workspace=Workspace(
            AsyncWebClient(base_url=settings.slack_api_url), settings.slack_bot_token
        ),
        check_cooldown=Cooldown(clock, check_cooldown),
        find_cooldown=Cooldown(clock, check_cooldown),
        iak=iak,
        price_lists=price_lists,
        metrics=metrics,
    )


def build_bot(
    settings: Settings,
    *,
    socket_mode: bool = False,
    registry: Registry | None = None,
    clock: Clock | None = None,
    iak_limits: CallLimits | None = None,
    slack_pace_seconds: float = 1.0,
    check_cooldown: timedelta = CHECK_COOLDOWN,
) -> Bot:
    """Build the bot from settings; nothing connects until it is started."""
    required_for_slack(settings, socket_mode=socket_mode)
    for warning in setting_warnings(settings):
        log.warning("%s", warning)
    services = build_services(
        settings,
        registry=registry,
        clock=clock,
        iak_limits=iak_limits,
        check_cooldown=check_cooldown,
    )
    alerting = build_alerting(services, slack_pace_seconds=slack_pace_seconds)
    if alerting is None and settings.monitor_enabled:
        log.warning("OPS_CHANNEL is not set: the monitor is off and no alert will be posted")
    slack = build_slack_app(services, alerting=alerting, socket_mode=socket_mode)
    refusals = CallbackRefusals(services.database.engine)
    intake = Intake(settings, services.registry, services.database, services.clock, refusals)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await bot.start()
        try:
            yield
        finally:
            await refusals.close()
            await bot.stop()

    metrics_page = MetricsPage(
        services.metrics, services.database, services.incidents, services.clock
    )
    web = create_web(
        slack,
        intake,
        services.database,
        health=partial(health_report, services, alerting),
        lifespan=lifespan,
        metrics=services.metrics,
        metrics_page=metrics_page if settings.metrics_token else None,
        metrics_token=settings.metrics_token,
    )
    bot = Bot(services=services, slack=slack, web=web, alerting=alerting, refusals=refusals)
    return bot


async def run_monitor(settings: Settings) -> None:
    """`iak-bot monitor`: the monitor and notifier alone, until SIGTERM or SIGINT."""
    services = build_services(settings)
    alerting = build_alerting(services)
    if alerting is None:
        raise ConfigError("OPS_CHANNEL and SLACK_BOT_TOKEN are needed to post alerts")
    services.database.require_migrated()
    services.database.writer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    alerting.start()
    log.info("monitor running as %s", alerting.monitor.holder)
    await stop.wait()
    log.info("stopping the monitor")
    await alerting.stop(SHUTDOWN_GRACE_SECONDS)
    services.database.close()
    if services.iak is not None:
        await services.iak.aclose()


def create_web_app() -> ASGIApp:
    """Uvicorn factory for `iak-bot serve` (each worker process builds its own bot)."""
    settings = load_settings()
    setup_logging(settings)
    start_error_tracking(settings)
    return build_bot(settings).web
