"""Scenario: the merchant backend imports history with each top-up's own `created_at`. The
monitor judges a transaction by when it happened, not when the bot heard of it: old
failures are the baseline, not an incident; a top-up pending since 09:00 that the bot first
hears of at 11:00 has been pending two hours."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from tests.support.alerts import (
    Shop,
    delivered_parents,
    parent_ts,
    parents,
    settle,
    text_of,
    wait_until,
)
from tests.support.bot import RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.iak import FakeIak
from tests.support.fakes.slack import FakeSlack
from tests.support.messages import answer, visible_text

HOUR = timedelta(hours=1)


def test_a_day_of_history_is_the_baseline_and_a_live_spike_is_one_incident(
    monitored: Callable[..., RunningBot],
    clock: FakeClock,
    fake_slack: FakeSlack,
    database_url: str,
) -> None:
    # an hour's window, so that a day of history at a few percent failures gives a
    # baseline above the floor of one per window
    bot = monitored(database_url=database_url, spike_min_failures=3, spike_window_seconds=3600)
    shop = Shop(bot)
    now = clock.now()
    # 1,200 top-ups over the last 24 h, one every 72 s; every 25th fails with 07 (4 %)
    steps = range(1200)

    def send(n: int) -> None:
        created_at = now - 24 * HOUR + timedelta(seconds=72 * n + 36)
        if n % 25 == 0:
            shop.forward(f"old{n:04d}", created_at=created_at, status=2, rc="07")
        else:
            shop.forward(f"old{n:04d}", created_at=created_at, status=1, rc="00", sn=f"SN{n}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, steps))
    # 48 failures: 2 in the last hour (n = 1150, 1175), 46 in the 24 hours before it
    settle(bot)  # the monitor ticks every 50 ms
    assert parents(fake_slack) == []  # yesterday's failures are history, not an incident

    stats = visible_text(answer(bot.slack.command("stats 24h")))
    assert "*1,200* transactions in the last 24 h" in stats  # judged by when they happened
    assert "48 failures in the last 24 h" in stats

    for n in range(6):  # live: 2 + 6 = 8 in the window, over 3 × the usual 1.92
        shop.callback(f"live{n}", "2", "07")
    parent_ts(fake_slack)
    settle(bot)
    (parent,) = parents(fake_slack)
    shown = text_of(parent)
    assert "07 FAILED" in shown
    assert "usual ≈ 1.92 per" in shown  # 46 failures over the 24 hours before the window
    count = re.search(r"(\d+)\* failures in the last", shown) or re.search(
        r"(\d+) failures in the last", shown
    )
    assert count is not None and 6 <= int(count.group(1)) <= 8


def test_a_recent_backlog_is_still_an_incident(
    monitored: Callable[..., RunningBot], clock: FakeClock, fake_slack: FakeSlack
) -> None:
    # Four to open: the incident opens once the whole backlog is in, whenever the tick runs.
    bot = monitored(spike_min_failures=4)
    shop = Shop(bot)
    now = clock.now()
    for n in range(4):  # a backend forwards a backlog of failures from the last two minutes
        shop.forward(f"recent{n}", created_at=now - timedelta(seconds=30 * n), status=2, rc="07")
    for n in range(4):  # and a backlog from yesterday, which is only history
        shop.forward(f"stale{n}", created_at=now - 20 * HOUR, status=2, rc="205")
    parent_ts(fake_slack)
    settle(bot)
    (parent,) = parents(fake_slack)
    assert "07 FAILED" in text_of(parent) and "4 failures" in text_of(parent)


def test_pending_age_counts_from_when_the_top_up_was_created(
    monitored: Callable[..., RunningBot],
    clock: FakeClock,
    fake_slack: FakeSlack,
    fake_iak: FakeIak,
    database_url: str,
) -> None:
    bot = monitored(database_url=database_url)
    shop = Shop(bot)
    now = clock.now()
    # pending since two hours ago, first heard of now: it has aged out already
    shop.pending("since0900", created_at=now - 2 * HOUR)
    # and an import of 12 more, pending for 1 to 3 hours, plus one from two days ago
    for n in range(12):
        shop.pending(f"backlog{n:02d}", created_at=now - HOUR - timedelta(minutes=10 * n))
    shop.pending("ancient", created_at=now - 48 * HOUR)
    ts = parent_ts(fake_slack)

    def parent_now() -> str:
        """The parent as the channel shows it: its last edit, else as posted."""
        edits = [c for c in fake_slack.calls_to("chat.update") if c.args.get("ts") == ts]
        return text_of(edits[-1] if edits else delivered_parents(fake_slack)[0])

    # the import may span a few ticks: the one incident grows, edited in place
    wait_until(lambda: "14 top-ups have been pending too long" in parent_now(), clock=clock)
    settle(bot)
    assert len(parents(fake_slack)) == 1
    shown = parent_now()
    assert "ancient" in shown and "pending 2 d" in shown  # oldest first, by its created_at

    listed = visible_text(answer(bot.slack.command("pending")))
    since = next(line for line in listed.splitlines() if "since0900" in line)
    assert "2 h" in since
    # IAK is asked about the recent ones, never about the one that started two days ago
    wait_until(lambda: bool(fake_iak.calls_for("since0900")), clock=clock, timeout=10)
    assert fake_iak.calls_for("ancient") == []
