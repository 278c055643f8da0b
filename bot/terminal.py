"""The terminal twins of the slash commands (`iak-bot code|status|balance|product|pending|
stats|handover|digest`): the same use cases and cards as Slack, rendered for a terminal in
BOT_LANGUAGE."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings, load_settings
from bot.controls import without_controls
from bot.i18n import _
from bot.searches import search_too_long, search_too_long_note

if TYPE_CHECKING:
    from datetime import date, datetime

    from sqlalchemy import Engine

    from bot.checks import Checked
    from bot.iak.client import BalanceCheck
    from bot.incidents.kinds.digest import DigestDetails
    from bot.price_lists import PriceListView
    from bot.registry import Line, Registry
    from bot.slack.blocks.text import Message

EXIT_CONFIG = 2


def code(args: argparse.Namespace) -> int:
    from bot.registry import Empty, Found, Line, Matches, Registry, Unknown
    from bot.slack.blocks.cards import remediation_card, search_results, unknown_code
    from bot.slack.blocks.terminal import render

    typed = " ".join(args.query)
    if search_too_long(typed):
        print(search_too_long_note(), file=sys.stderr)
        return EXIT_CONFIG
    registry = Registry.load()
    result = registry.lookup(typed)
    match result:
        case Found(code=code, note=note, homonym=homonym):
            message = remediation_card(code, note=note, homonym=homonym, shareable=False)
        case Matches():
            message = search_results(result)
        case Empty(line=line):
            example = "pp 11" if line is Line.POSTPAID else "17"
            print(
                _("Give a code or words, e.g. iak-bot code {example}").format(example=example),
                file=sys.stderr,
            )
            return EXIT_CONFIG
        case _:
            message = unknown_code(result)
    sys.stdout.write(render(message, bold=sys.stdout.isatty() and not os.environ.get("NO_COLOR")))
    return 1 if isinstance(result, Unknown) else 0


def _has_store(settings: Settings) -> bool:
    """Whether DATABASE_URL names a database that may exist: a terminal command without one
    goes without what the store adds, rather than create an empty database file."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    return url.get_backend_name() != "sqlite" or os.path.exists(url.database or "")


def status(args: argparse.Namespace) -> int:
    from bot.iak.models import valid_ref_id
    from bot.outcomes import Line, Outcome
    from bot.registry import Registry
    from bot.slack.blocks.status import check_card

    if not valid_ref_id(args.ref_id):
        print(
            _(
                "A ref_id is 1-100 printable characters without spaces, e.g. iak-bot status "
                "order001 (iak-bot status --postpaid bill001 for a postpaid bill)"
            ),
            file=sys.stderr,
        )
        return EXIT_CONFIG
    settings = load_settings()
    settings.require("iak_username", "iak_api_key", why="to ask IAK (iak-bot status)")
    registry = Registry.load()
    line = Line.POSTPAID if args.postpaid else Line.PREPAID
    checked = asyncio.run(_check(settings, registry, args.ref_id, line))
    _print(check_card(checked, registry, recheck=False))
    # 0 when IAK told the outcome (even failed); 1 when it is unknown (IAK down, refused, 06).
    return 1 if checked.outcome is Outcome.UNKNOWN else 0


async def _check(settings: Settings, registry: Registry, ref_id: str, line: Line) -> Checked:
    """Check at IAK as `/iak status` does; recorded, with the history, when DATABASE_URL
    names a migrated store (a terminal command never creates one)."""
    from bot.checks import TransactionChecks
    from bot.clock import SystemClock
    from bot.iak.client import IakClient
    from bot.store.database import Database

    database = Database(settings.database_url) if _has_store(settings) else None
    if database is not None:
        try:
            database.require_migrated()
        except ConfigError:
            database.close()
            database = None  # no store yet: the card simply has no history
    try:
        async with IakClient.from_settings(settings, registry) as iak:
            return await TransactionChecks(iak, database, SystemClock()).check(ref_id, line)
    finally:
        if database is not None:
            await asyncio.to_thread(database.close)


def balance(args: argparse.Namespace) -> int:
    from bot.registry import Registry
    from bot.slack.blocks.balance import balance_card

    settings = load_settings()
    settings.require("iak_username", "iak_api_key", why="to ask IAK (iak-bot balance)")
    registry = Registry.load()
    check = asyncio.run(_check_balance(settings, registry))
    _print(balance_card(check, registry, low_threshold=settings.low_balance_threshold))
    return 1 if check.balance is None else 0


async def _check_balance(settings: Settings, registry: Registry) -> BalanceCheck:
    from bot.iak.client import IakClient

    async with IakClient.from_settings(settings, registry) as iak:
        return await iak.check_balance()


def product(args: argparse.Namespace) -> int:
    from bot.iak.products import NoProduct, find_product
    from bot.price_lists import product_query, products_of
    from bot.registry import Registry
    from bot.slack.blocks.products import product_answer

    typed = " ".join(args.query)
    if search_too_long(typed):
        print(search_too_long_note(), file=sys.stderr)
        return EXIT_CONFIG
    lines, query = product_query(typed)
    if not query:
        print(_("Give a product code or words, e.g. iak-bot product xld25000"), file=sys.stderr)
        return EXIT_CONFIG
    settings = load_settings()
    settings.require("iak_username", "iak_api_key", why="to ask IAK (iak-bot product)")
    views, now = asyncio.run(_price_lists(settings, Registry.load(), lines))
    lookup = find_product(products_of(views), query)
    _print(product_answer(lookup, views, now=now))
    return 1 if isinstance(lookup, NoProduct) else 0


async def _price_lists(
    settings: Settings, registry: Registry, lines: tuple[Line, ...]
) -> tuple[list[PriceListView], datetime]:
    """The lists from the database's cache (refreshed from IAK when old), or from IAK alone
    when there is no migrated database here."""
    from bot.clock import SystemClock
    from bot.iak.client import IakClient
    from bot.price_lists import PriceLists
    from bot.store.price_lists import PriceListRepository

    clock = SystemClock()
    engine = _migrated_engine(settings) if _has_store(settings) else None
    try:
        async with IakClient.from_settings(settings, registry) as iak:
            repository = PriceListRepository(engine) if engine is not None else None
            views = await PriceLists(iak, repository, clock).current(lines)
    finally:
        if engine is not None:
            engine.dispose()
    return views, clock.now()


def _migrated_engine(settings: Settings) -> Engine | None:
    from bot.store.db import create_db_engine, require_migrated

    engine = create_db_engine(settings.database_url)
    try:
        require_migrated(engine)
    except ConfigError:
        engine.dispose()
        return None  # no schema yet: go without the cache
    return engine


def _print(message: Message) -> None:
    from bot.slack.blocks.terminal import render

    sys.stdout.write(render(message, bold=sys.stdout.isatty() and not os.environ.get("NO_COLOR")))


def _store(settings: Settings) -> Engine:
    """The migrated database, read directly (no writer process: these commands only
    read); a missing or unmigrated one stops the command with a message."""
    from bot.store.db import create_db_engine, display_url, require_migrated

    if not _has_store(settings):
        raise ConfigError(
            f"No database at {display_url(settings.database_url)}: check DATABASE_URL, "
            "or run iak-bot migrate and let the bot record transactions first."
        )
    engine = create_db_engine(settings.database_url)
    try:
        require_migrated(engine)
    except ConfigError:
        engine.dispose()
        raise
    return engine


def find(args: argparse.Namespace) -> int:
    from bot.slack.blocks.finds import find_results
    from bot.store.transactions import TransactionStore

    typed = without_controls(" ".join(args.query)).strip()
    if search_too_long(typed):
        print(search_too_long_note(), file=sys.stderr)
        return EXIT_CONFIG
    engine = _store(load_settings())
    try:
        found = TransactionStore(engine).find(typed)
    finally:
        engine.dispose()
    _print(find_results(typed, found, checkable=False))
    # 1 when nothing matched, as `code` and `product` do
    return 0 if found.transactions else 1


def pending(args: argparse.Namespace) -> int:
    from bot.clock import SystemClock
    from bot.slack.blocks.reports import pending_card
    from bot.store import reports

    engine = _store(load_settings())
    try:
        page = reports.on(engine, reports.pending_page)
    finally:
        engine.dispose()
    _print(pending_card(page, now=SystemClock().now()))
    return 0


def stats(args: argparse.Namespace) -> int:
    from bot.clock import SystemClock
    from bot.registry import Registry
    from bot.slack.blocks.reports import stats_card
    from bot.slack.listeners.reports import STATS_WINDOWS
    from bot.store import reports
    from bot.store.reports import TimeBuckets

    window = STATS_WINDOWS[args.window]
    engine = _store(load_settings())
    try:
        buckets = TimeBuckets.ending(SystemClock().now(), window.span, window.buckets)
        stats = reports.on(engine, reports.window_stats, buckets)
    finally:
        engine.dispose()
    _print(stats_card(stats, Registry.load(), label=window.label))
    return 0


def handover(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from bot.clock import SystemClock
    from bot.incidents.kinds.handover import handover_now
    from bot.incidents.repository import IncidentRepository
    from bot.registry import Registry
    from bot.slack.alerts.kinds.handover import handover_message

    settings = load_settings()
    engine = _store(settings)
    try:
        age_out = timedelta(seconds=settings.pending_age_out_seconds)
        details = handover_now(engine, IncidentRepository(engine), SystemClock().now(), age_out)
    finally:
        engine.dispose()
    _print(handover_message(details, Registry.load()))
    return 0


def day(value: str) -> date:
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a day as YYYY-MM-DD, e.g. 2026-12-03"
        ) from None


def digest(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from bot.clock import WIB, SystemClock
    from bot.i18n import _
    from bot.incidents.kinds.digest import digest_details
    from bot.incidents.repository import IncidentRepository
    from bot.registry import Registry
    from bot.slack.blocks.digest import digest_message

    settings = load_settings()
    if args.post:
        settings.require(
            "slack_bot_token", "ops_channel", why="to post the digest (iak-bot digest --post)"
        )
    now = SystemClock().now()
    today = now.astimezone(WIB).date()
    day = args.date or today - timedelta(days=1)
    if day > today:
        print(
            _("{day} has not begun yet in WIB (today is {today}).").format(day=day, today=today),
            file=sys.stderr,
        )
        return EXIT_CONFIG
    engine = _store(settings)
    try:
        with engine.connect() as connection:
            details = digest_details(connection, IncidentRepository(engine), day, now)
    finally:
        engine.dispose()
    registry = Registry.load()
    if not args.post:
        _print(digest_message(details, registry, chart=False))
        return 0
    return asyncio.run(_post_digest(settings, details, registry))


async def _post_digest(settings: Settings, details: DigestDetails, registry: Registry) -> int:
    """Post the digest to OPS_CHANNEL and its chart into its thread (as the monitor does,
    but now and regardless of whether that day's digest went out already)."""
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.i18n import _
    from bot.slack.blocks.digest import chart_title, digest_message
    from bot.slack.chart import hourly_chart
    from bot.slack.uploads import upload_into_thread

    message = digest_message(details, registry)
    client = AsyncWebClient(
        token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=10
    )
    try:
        posted = await client.chat_postMessage(
            channel=settings.ops_channel or "", text=message["text"], blocks=message["blocks"]
        )
    except SlackApiError as exc:
        error = exc.response.get("error")
        error = without_controls(str(error))
        print(_("Slack refused the digest: {error}").format(error=error), file=sys.stderr)
        return 1
    except Exception as exc:  # network: refused, reset, timeout
        reason = without_controls(f"{exc.__class__.__name__}: {exc}")
        print(_("Could not reach Slack ({reason})").format(reason=reason), file=sys.stderr)
        return 1
    print(
        _("Posted the digest for {day} to {channel}.").format(
            day=details.day, channel=posted["channel"]
        )
    )
    title = chart_title(details)
    try:
        picture = await asyncio.to_thread(hourly_chart, details, title)
        await upload_into_thread(
            client,
            channel=str(posted["channel"]),
            thread_ts=str(posted["ts"]),
            filename=f"digest-{details.day.isoformat()}.png",
            title=title,
            content=picture,
        )
    except Exception as exc:
        why = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
        print(
            _("The chart did not go up ({reason}); the digest is posted without it.").format(
                reason=without_controls(str(why))
            )
        )
        return 0
    print(_("Its chart is in the thread."))
    return 0
