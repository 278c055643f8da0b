"""Faults with real connections: the database disappears for a while (Postgres restarting,
simulated by cutting a proxy in front of it), and the service answers 503 instead of
hanging, then recovers without a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from bot.registry import Registry
from bot.store.db import create_db_engine
from bot.store.writer import StoreUnavailable, Writer
from tests.support.bot import RunningBot
from tests.support.fakes.tcp_proxy import TcpProxy
from tests.support.intake import INGEST_TOKEN, callback_body, topup_answer
from tests.support.transactions import seen


def test_database_outage_gives_503_then_recovers(
    start_bot: Callable[..., RunningBot], proxied_postgres: tuple[str, TcpProxy]
) -> None:
    url, proxy = proxied_postgres
    bot = start_bot(database_url=url, ingest_token=INGEST_TOKEN)
    http = httpx.Client(timeout=30)
    try:
        assert http.post(bot.url + "/iak/callback", json=callback_body("before")).status_code == 200

        proxy.cut()
        started = time.monotonic()
        during = http.post(bot.url + "/iak/callback", json=callback_body("during"))
        assert during.status_code == 503
        assert "try again" in during.json()["error"]
        assert time.monotonic() - started < 10  # an answer, not a hang
        assert http.get(bot.url + "/healthz").status_code == 503
        # Slack still gets its answers: /iak code needs no database
        assert bot.slack.command("code 17").status_code == 200

        proxy.restore()
        deadline = time.monotonic() + 15
        while http.get(bot.url + "/healthz").status_code != 200:
            assert time.monotonic() < deadline, "no recovery"
            time.sleep(0.2)
        assert http.post(bot.url + "/iak/callback", json=callback_body("during")).status_code == 200
        headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
        assert (
            http.post(
                bot.url + "/transactions", json=topup_answer("after"), headers=headers
            ).status_code
            == 200
        )
        states = [
            bot.bot.services.database.transactions.get(r) for r in ("before", "during", "after")
        ]
        assert all(state is not None for state in states)
    finally:
        http.close()


def _answers_within(http: httpx.Client, url: str, body: dict[str, object]) -> tuple[int, float]:
    started = time.monotonic()
    status = http.post(url + "/iak/callback", json=body).status_code
    return status, time.monotonic() - started


def _recovers(http: httpx.Client, url: str, ref_id: str, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while http.post(url + "/iak/callback", json=callback_body(ref_id)).status_code != 200:
        assert time.monotonic() < deadline, "no recovery"
        time.sleep(0.2)


def test_a_lock_held_on_the_table_gives_503_in_time_then_recovers(
    start_bot: Callable[..., RunningBot], database_url: str
) -> None:
    """A migration or a manual session holds a lock on the transactions: callbacks answer 503
    well before a platform router's 30 s (and before the sender gives up), and flow again
    as soon as the lock goes."""
    bot = start_bot(database_url=database_url)
    holder = create_engine(database_url, poolclass=NullPool)
    http = httpx.Client(timeout=30)
    try:
        assert http.post(bot.url + "/iak/callback", json=callback_body("lk0")).status_code == 200
        with holder.connect() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.exec_driver_sql("BEGIN")
                connection.exec_driver_sql("LOCK TABLE transactions IN ACCESS EXCLUSIVE MODE")
            statuses = [_answers_within(http, bot.url, callback_body(f"lk{n}")) for n in (1, 2)]
            connection.exec_driver_sql("ROLLBACK")
        assert [status for status, _ in statuses] == [503, 503]
        assert all(seconds < 10 for _, seconds in statuses)
        _recovers(http, bot.url, "lk1")
    finally:
        http.close()
        holder.dispose()


def test_a_database_that_stops_answering_gives_503_in_time_then_recovers(
    start_bot: Callable[..., RunningBot], proxied_postgres: tuple[str, TcpProxy]
) -> None:
    """The connection stays open but nothing comes back (a half-open connection, a server
    frozen mid-query): the callback still answers 503 within 10 s, and once the database
    answers again the bot stores without a restart."""
    url, proxy = proxied_postgres
    bot = start_bot(database_url=url)
    http = httpx.Client(timeout=30)
    try:
        assert http.post(bot.url + "/iak/callback", json=callback_body("st0")).status_code == 200
        proxy.stall()
        status, seconds = _answers_within(http, bot.url, callback_body("st1"))
        assert status == 503 and seconds < 10
        proxy.resume()
        _recovers(http, bot.url, "st2")
    finally:
        http.close()


async def test_writes_waiting_on_a_stalled_database_are_bounded(
    proxied_postgres: tuple[str, TcpProxy], registry: Registry
) -> None:
    """While the database is stalled, at most `max_queued` writes wait in memory; the next
    ones are refused at once."""
    url, proxy = proxied_postgres
    engine = create_db_engine(url)
    writer = Writer(engine, deadline=5, max_queued=3)
    writer.start()
    try:
        proxy.stall()

        def write(n: int) -> asyncio.Future[object]:
            return asyncio.ensure_future(writer.enqueue(seen(registry, f"q{n}", datetime.now(UTC))))

        waiting = [write(0)]
        await asyncio.sleep(0.5)  # the writer thread took it, and is stuck with it
        waiting += [write(n) for n in (1, 2, 3)]  # these wait in the queue
        await asyncio.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="too many"):
            await writer.enqueue(seen(registry, "q4", datetime.now(UTC)))
        assert time.monotonic() - started < 1
        proxy.resume()
        results = await asyncio.gather(*waiting, return_exceptions=True)
        # each either got through once the database answered, or was told to try again
        assert all(
            not isinstance(result, BaseException) or isinstance(result, StoreUnavailable)
            for result in results
        )
    finally:
        proxy.resume()
        writer.stop(timeout=5)
        engine.dispose()
