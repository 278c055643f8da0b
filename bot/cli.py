"""`iak-bot …`: the command-line entry points."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from bot.config import (
    ConfigError,
    DatabaseUnreachable,
    Settings,
    load_settings,
    required_for_slack,
)
from bot.controls import without_controls
from bot.i18n import _, language
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

log = logging.getLogger(__name__)

EXIT_CONFIG = 2
# a forked database check's answer: the database did not answer (DatabaseUnreachable)
EXIT_UNREACHABLE = 3


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `iak-bot` command; configuration problems print a message, never a traceback."""
    parser = _parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.run
    try:
        # The terminal is the team's, like the ops channel: it speaks BOT_LANGUAGE.
        with language(load_settings().bot_language):
            return command(args)
    except ConfigError as exc:
        # (a database's or Slack's words may be in it: no control character reaches the terminal)
        print(f"iak-bot {args.command}: {without_controls(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iak-bot",
        description="Slack chat-ops bot for IAK prepaid top-ups. Settings come from the "
        "environment and .env (see .env.example).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    serve = sub.add_parser("serve", help="HTTP server on $PORT for Slack, callbacks and health")
    serve.set_defaults(run=_serve)

    socket = sub.add_parser("socket", help="the bot over Slack Socket Mode (no public URL)")
    socket.set_defaults(run=_socket)

    monitor = sub.add_parser("monitor", help="the monitor alone (alerts to OPS_CHANNEL)")
    monitor.set_defaults(run=_monitor)

    migrate = sub.add_parser("migrate", help="create or upgrade the database schema")
    migrate.set_defaults(run=_migrate)

    code = sub.add_parser("code", help="print the remediation card for a code, offline")
    code.add_argument(
        "query", nargs="+", help="a response code (17, 6, http 503, pp 11 for postpaid) or words"
    )
    code.set_defaults(run=_code)

    status = sub.add_parser("status", help="check one transaction at IAK and print its card")
    status.add_argument("ref_id", help="the transaction's ref_id, as the backend sent it to IAK")
    status.add_argument(
        "--postpaid",
        action="store_true",
        help="a postpaid bill payment: ask IAK's postpaid API (IAK_POSTPAID_BASE_URL)",
    )
    status.set_defaults(run=_status)

    balance = sub.add_parser("balance", help="print the IAK deposit balance")
    balance.set_defaults(run=_balance)

    product = sub.add_parser("product", help="a product of IAK's price lists: price, active or not")
    product.add_argument(
        "query",
        nargs="+",
        help="a product code (xld25000) or words (telkomsel 25); pp first for postpaid only",
    )
    product.set_defaults(run=_product)

    pending = sub.add_parser("pending", help="the pending transactions, oldest first")
    pending.set_defaults(run=_pending)

    stats = sub.add_parser("stats", help="outcomes and top failure codes over a window")
    stats.add_argument(
        "window", nargs="?", default="24h", choices=["1h", "24h", "7d"], help="default 24h"
    )
    stats.set_defaults(run=_stats)

    digest = sub.add_parser("digest", help="the daily digest: print it, or post it")
    digest.add_argument(
        "--date", type=_day, help="the WIB day, YYYY-MM-DD (default: yesterday in WIB)"
    )
    digest.add_argument(
        "--post", action="store_true", help="post it with its chart to OPS_CHANNEL instead"
    )
    digest.set_defaults(run=_digest)

    manifest = sub.add_parser("manifest", help="print the Slack app manifest for a host")
    where = manifest.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="the bot's public base URL, e.g. https://iak-bot.example.com")
    where.add_argument(
        "--socket-mode", action="store_true", help="a manifest for Socket Mode (no request URLs)"
    )
    manifest.set_defaults(run=_manifest)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from bot.logs import setup_logging

    settings = load_settings()
    required_for_slack(settings)
    unreachable: DatabaseUnreachable | None = None
    try:
        if settings.web_concurrency > 1:
            # This process only watches the workers: it checks the database from a child, so
            # that it never loads the database libraries the workers load for themselves.
            _in_a_child(_require_database, settings)
        else:
            _require_database(settings)
    except DatabaseUnreachable as exc:
        # A database that is down now may be back in a minute: serve anyway (503 until
        # then) rather than exit into the platform's crash back-off. A schema that does
        # not fit is no outage: that still stops here (a ConfigError).
        unreachable = exc
    setup_logging(settings)
    if unreachable is not None:
        log.warning("the database does not answer; serving 503 until it does: %s", unreachable)
    metrics_dir, ours = _metrics_dir()
    try:
        _run_uvicorn(settings)
    finally:
        if ours:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _metrics_dir() -> tuple[str, bool]:
    """Where the worker processes keep their metrics, so that whichever one answers
    GET /metrics adds up every worker's (prometheus_client's multiprocess mode): the
    operator's PROMETHEUS_MULTIPROC_DIR (created if missing), else a fresh directory of our
    own, removed when serve ends. Set before any process imports prometheus_client, which
    chooses its mode on import. Returns the directory and whether it is ours."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if given:
        os.makedirs(given, exist_ok=True)
        return given, False
    made = tempfile.mkdtemp(prefix="iak-bot-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
    return made, True


def _run_uvicorn(settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        "bot.app:create_web_app",
        factory=True,
        host="0.0.0.0",  # noqa: S104 - the platform's router reaches the dyno on $PORT
        port=settings.port,
        workers=settings.web_concurrency,
        log_level=settings.log_level.lower(),
        access_log=False,
        # our logging (one redacted line per event), not uvicorn's own configuration
        log_config=None,
        proxy_headers=False,
        timeout_graceful_shutdown=3,
    )


def _socket(args: argparse.Namespace) -> int:
    from bot.error_tracking import start_error_tracking
    from bot.logs import setup_logging

    settings = load_settings()
    settings.require("slack_bot_token", "slack_app_token", why="for Socket Mode (iak-bot socket)")
    setup_logging(settings)
    start_error_tracking(settings)
    asyncio.run(_run_socket(settings))
    return 0


async def _run_socket(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.app import build_bot

    bot = build_bot(settings, socket_mode=True)
    handler = AsyncSocketModeHandler(bot.slack, settings.slack_app_token)
    await bot.start()
    try:
        await handler.start_async()  # type: ignore[no-untyped-call]
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await bot.stop()


def _monitor(args: argparse.Namespace) -> int:
    from bot.app import run_monitor
    from bot.error_tracking import start_error_tracking
    from bot.logs import setup_logging

    settings = load_settings()
    settings.require(
        "slack_bot_token", "ops_channel", why="for the monitor to post alerts (iak-bot monitor)"
    )
    _require_database(settings)
    setup_logging(settings)
    start_error_tracking(settings)
    asyncio.run(run_monitor(settings))
    return 0


def _in_a_child(check: Callable[[Settings], None], settings: Settings) -> None:
    """Run a check in a forked child (before any thread exists); its ConfigError is raised
    here, with its message."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        code = 0
        try:
            check(settings)
        except ConfigError as exc:
            os.write(write, str(exc).encode())
            code = EXIT_UNREACHABLE if isinstance(exc, DatabaseUnreachable) else EXIT_CONFIG
        except BaseException:  # anything else is reported by the parent's own check
            code = 1
        os.close(write)
        os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        message = answer.read().decode()
    __, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == EXIT_UNREACHABLE:
        raise DatabaseUnreachable(message)
    if code != 0:
        raise ConfigError(message or "the database check failed; see the log")


def _require_database(settings: Settings) -> None:
    """Stop with a message unless the database is reachable and migrated."""
    from bot.store.db import create_db_engine, require_migrated

    engine = create_db_engine(settings.database_url)
    try:
        require_migrated(engine)
    finally:
        engine.dispose()


def _migrate(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError

    from bot.store.db import (
        MIGRATION_LOCK_TIMEOUT_SECONDS,
        MigrationLockTimeout,
        create_db_engine,
        display_url,
        head_revision,
        migrate,
    )

    settings = load_settings()
    engine = create_db_engine(settings.database_url)
    where = display_url(engine.url)
    try:
        done = migrate(engine)
    except OperationalError as exc:
        raise ConfigError(
            _("Cannot reach the database at {where}: {error}").format(
                where=where, error=str(exc.orig).strip().splitlines()[0]
            )
            + "\n"
            + _("Check DATABASE_URL.")
        ) from None
    except MigrationLockTimeout:
        print(
            _(
                "A migration of {where} waited more than {seconds:g} s for a table that is in "
                "use and gave up, changing nothing more; the bot keeps serving. Run iak-bot "
                "migrate again (on Heroku: release again) when the database is less busy."
            ).format(where=where, seconds=MIGRATION_LOCK_TIMEOUT_SECONDS),
            file=sys.stderr,
        )
        return 1
    finally:
        engine.dispose()
    if done.ahead:
        print(
            _(
                "Database {where} is at schema {schema}, newer than this release's {head} (a "
                "rollback?). Nothing to do: this release runs on it."
            ).format(where=where, schema=done.after, head=head_revision())
        )
    elif done.before == done.after:
        print(
            _("Database {where} is up to date (schema {schema}).").format(
                where=where, schema=done.after
            )
        )
    else:
        print(
            _("Database {where} migrated from schema {before} to {after}.").format(
                where=where, before=done.before or _("none"), after=done.after
            )
        )
    return 0


def _code(args: argparse.Namespace) -> int:
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


def _status(args: argparse.Namespace) -> int:
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


def _balance(args: argparse.Namespace) -> int:
    from bot.registry import Registry
    from bot.slack.blocks.status import balance_card

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


def _product(args: argparse.Namespace) -> int:
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


def _pending(args: argparse.Namespace) -> int:
    from bot.clock import SystemClock
    from bot.slack.blocks.reports import pending_card
    from bot.store.reports import Reports

    engine = _store(load_settings())
    try:
        page = Reports(engine).pending_page()
    finally:
        engine.dispose()
    _print(pending_card(page, now=SystemClock().now()))
    return 0


def _stats(args: argparse.Namespace) -> int:
    from bot.clock import SystemClock
    from bot.registry import Registry
    from bot.slack.blocks.reports import stats_card
    from bot.slack.listeners.reports import STATS_WINDOWS
    from bot.store.reports import Reports, TimeBuckets

    window = STATS_WINDOWS[args.window]
    engine = _store(load_settings())
    try:
        buckets = TimeBuckets.ending(SystemClock().now(), window.span, window.buckets)
        stats = Reports(engine).window_stats(buckets)
    finally:
        engine.dispose()
    _print(stats_card(stats, Registry.load(), label=window.label))
    return 0


def _day(value: str) -> date:
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a day as YYYY-MM-DD, e.g. 2026-12-03"
        ) from None


def _digest(args: argparse.Namespace) -> int:
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


def _manifest(args: argparse.Namespace) -> int:
    from bot.slack.manifest import manifest_yaml

    if args.socket_mode:
        sys.stdout.write(manifest_yaml(socket_mode=True))
        return 0
    url = urlparse(args.url)
    if url.scheme != "https" or not url.netloc:
        raise ConfigError(
            _(
                "--url must be the bot's public https:// base URL (got {url}); Slack only "
                "sends requests to https."
            ).format(url=repr(args.url))
        )
    sys.stdout.write(manifest_yaml(f"https://{url.netloc}{url.path.rstrip('/')}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
