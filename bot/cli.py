"""`iak-bot …`: the command-line entry points. The process commands (serve, socket,
monitor, migrate) are here; the terminal twins of the slash commands (code, status, balance,
product, find, pending, stats, handover, digest) are `bot.terminal`, calling the same use
cases as Slack."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from urllib.parse import urlparse

from bot import terminal
from bot.config import (
    ConfigError,
    DatabaseUnreachable,
    Settings,
    load_settings,
    required_for_slack,
)
from bot.controls import without_controls
from bot.i18n import _, language
from bot.terminal import EXIT_CONFIG

log = logging.getLogger(__name__)

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
    code.set_defaults(run=terminal.code)

    status = sub.add_parser("status", help="check one transaction at IAK and print its card")
    status.add_argument("ref_id", help="the transaction's ref_id, as the backend sent it to IAK")
    status.add_argument(
        "--postpaid",
        action="store_true",
        help="a postpaid bill payment: ask IAK's postpaid API (IAK_POSTPAID_BASE_URL)",
    )
    status.set_defaults(run=terminal.status)

    balance = sub.add_parser("balance", help="print the IAK deposit balance")
    balance.set_defaults(run=terminal.balance)

    product = sub.add_parser("product", help="a product of IAK's price lists: price, active or not")
    product.add_argument(
        "query",
        nargs="+",
        help="a product code (xld25000) or words (telkomsel 25); pp first for postpaid only",
    )
    product.set_defaults(run=terminal.product)

    find = sub.add_parser(
        "find", help="the stored transactions of a customer number, serial, tr_id or ref_id"
    )
    find.add_argument(
        "query",
        nargs="+",
        help="a customer number in any spelling (0812-3450-0001, +62 812…), a serial number "
        "or its last 8+ digits, a tr_id or a ref_id",
    )
    find.set_defaults(run=terminal.find)

    pending = sub.add_parser("pending", help="the pending transactions, oldest first")
    pending.set_defaults(run=terminal.pending)

    stats = sub.add_parser("stats", help="outcomes and top failure codes over a window")
    stats.add_argument(
        "window", nargs="?", default="24h", choices=["1h", "24h", "7d"], help="default 24h"
    )
    stats.set_defaults(run=terminal.stats)

    handover = sub.add_parser(
        "handover", help="the shift handover: open incidents, mutes, old pending, failures"
    )
    handover.set_defaults(run=terminal.handover)

    digest = sub.add_parser("digest", help="the daily digest: print it, or post it")
    digest.add_argument(
        "--date", type=terminal.day, help="the WIB day, YYYY-MM-DD (default: yesterday in WIB)"
    )
    digest.add_argument(
        "--post", action="store_true", help="post it with its chart to OPS_CHANNEL instead"
    )
    digest.set_defaults(run=terminal.digest)

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
