"""Scenario: `/iak pending`, its page buttons and `/iak stats`, over signed HTTP.

Transactions arrive over the bot's real HTTP intake where a few will do, and straight
through the store where a test needs thousands, or times in the past.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from bot.registry import Registry
from bot.slack.listeners import commands
from bot.store.transactions import TransactionStore
from tests.support.bot import RunningBot
from tests.support.intake import callback_body, topup_answer
from tests.support.messages import answer, assert_valid, visible_text
from tests.support.transactions import CUSTOMER, record_all, seen

INGEST_TOKEN = "ingest-token-for-reports"


def store_of(running: RunningBot) -> TransactionStore:
    return running.bot.services.database.transactions


def page_button(message: dict[str, Any], label: str) -> dict[str, Any]:
    (found,) = [
        element
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["text"]["text"] == label
    ]
    return found


def listed_ref_ids(message: dict[str, Any]) -> list[str]:
    """The ref_ids of the listed transactions, in the order shown."""
    lines = [line for line in visible_text(message).splitlines() if line.count(" · ") >= 3]
    return [line.split(" · ")[1].strip("`") for line in lines]


def test_nothing_pending(running_bot: RunningBot) -> None:
    message = answer(running_bot.slack.command("pending"))
    assert_valid(message)
    assert "Nothing pending" in visible_text(message)


def test_pending_lists_what_arrived_over_http_oldest_first(
    start_bot: Callable[..., RunningBot], database_url: str
) -> None:
    running = start_bot(database_url=database_url, ingest_token=INGEST_TOKEN)
    bearer = {"Authorization": f"Bearer {INGEST_TOKEN}"}
    for ref_id in ("order101", "order102", "order103"):
        stored = httpx.post(
            running.url + "/transactions", json=topup_answer(ref_id), headers=bearer
        )
        assert stored.status_code == 200, stored.text
    # IAK's callback settles one of them: it leaves the list.
    settled = httpx.post(running.url + "/iak/callback", json=callback_body("order102"))
    assert settled.status_code == 200, settled.text

    message = answer(running.slack.command("pending"))
    assert_valid(message)
    shown = visible_text(message)
    assert listed_ref_ids(message) == ["order101", "order103"]
    assert "2 pending" in shown
    assert "xld25000" in shown and "08***215" in shown and "rc `39`" in shown
    assert CUSTOMER not in json.dumps(message)
    assert "Next page" not in shown


def test_thousands_pending_page_through(
    start_bot: Callable[..., RunningBot], database_url: str, registry: Registry
) -> None:
    running = start_bot(database_url=database_url)
    now = datetime.now(UTC)
    record_all(
        store_of(running),
        (seen(registry, f"bulk{n:05d}", now - timedelta(minutes=2000 - n)) for n in range(2000)),
    )
    first = answer(running.slack.command("pending"))
    assert_valid(first)
    shown = visible_text(first)
    assert "2,000 pending" in shown and "showing 1–15" in shown
    ref_ids = listed_ref_ids(first)
    assert ref_ids == [f"bulk{n:05d}" for n in range(15)]
    oldest = next(line for line in shown.splitlines() if "`bulk00000`" in line)
    assert "*1 d 9 h*" in oldest  # it came 2,000 minutes ago
    assert "Previous page" not in shown

    following = page_button(first, "Next page")
    clicked = running.slack.action(following["action_id"], following["value"], response_key="p2")
    assert clicked.status_code == 200
    (second,) = running.fake_slack.wait_for_response("p2")
    assert second["replace_original"] is True
    assert_valid(second)
    assert "showing 16–30" in visible_text(second)
    assert listed_ref_ids(second) == [f"bulk{n:05d}" for n in range(15, 30)]

    back = page_button(second, "Previous page")
    running.slack.action(back["action_id"], back["value"], response_key="p1")
    (again,) = running.fake_slack.wait_for_response("p1")
    assert listed_ref_ids(again) == ref_ids


def test_a_forged_page_value_changes_nothing(running_bot: RunningBot) -> None:
    clicked = running_bot.slack.action("pending_next_page", "'; DROP TABLE x", response_key="f")
    assert clicked.status_code == 200
    with pytest.raises(AssertionError):
        running_bot.fake_slack.wait_for_response("f", timeout=0.3)


def test_stats_over_each_window(
    start_bot: Callable[..., RunningBot], database_url: str, registry: Registry
) -> None:
    running = start_bot(database_url=database_url)
    now = datetime.now(UTC)
    record_all(
        store_of(running),
        [
            *(
                seen(registry, f"dep{n}", now - timedelta(minutes=10 + n), "failed", rc="17")
                for n in range(3)
            ),
            seen(registry, "fail-old", now - timedelta(hours=10), "failed", rc="07"),
            seen(registry, "fail-week", now - timedelta(days=3), "failed", rc="102"),
            *(
                seen(registry, f"ok{n}", now - timedelta(minutes=5 + n), "success")
                for n in range(5)
            ),
            seen(registry, "wait", now - timedelta(minutes=1)),
        ],
    )
    day = answer(running.slack.command("stats"))
    assert_valid(day)
    shown = visible_text(day)
    assert "IAK transactions, last 24 h" in shown
    assert "*10* transactions in the last 24 h" in shown
    assert "4 failures in the last 24 h" in shown
    assert "17 · INSUFFICIENT DEPOSIT" in shown and "(75 % of failures)" in shown
    assert "Top up the deposit" in shown
    assert "07 · FAILED" in shown and "102 ·" not in shown
    assert "24 buckets of 1 h" in shown
    assert "█" in shown

    hour = visible_text(answer(running.slack.command("stats 1h")))
    assert "last 1 h" in hour and "17 · INSUFFICIENT DEPOSIT" in hour and "07 · FAILED" not in hour
    assert "12 buckets of 5 min" in hour

    week = visible_text(answer(running.slack.command("STATS 7d")))
    assert "102 · INVALID IP ADDRESS" in week and "28 buckets of 6 h" in week


@pytest.mark.parametrize("window", ["2w", "24", "1 h please"])
def test_a_bad_window_gets_the_usage_line(shared_bot: RunningBot, window: str) -> None:
    shown = visible_text(answer(shared_bot.slack.command(f"stats {window}")))
    assert "is not a window: use 1h, 24h or 7d" in shown
    assert "/iak stats 24h" in shown
    assert "/iak code 17" not in shown


def test_help_and_usage_name_both_commands(shared_bot: RunningBot) -> None:
    shown = visible_text(answer(shared_bot.slack.command("help")))
    assert "/iak pending" in shown and "/iak stats 24h" in shown


def test_a_slow_store_is_acked_at_once_and_the_answer_follows(
    start_bot: Callable[..., RunningBot], registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No time at all for the store: every read takes the response_url path.
    monkeypatch.setattr(commands, "ANSWER_IN_ACK_WITHIN", 0)
    running = start_bot()
    record_all(store_of(running), [seen(registry, "slow001", datetime.now(UTC))])
    ack = answer(running.slack.command("pending", response_key="slow"))
    assert "Reading the pending transactions" in visible_text(ack)
    (card,) = running.fake_slack.wait_for_response("slow")
    assert card["response_type"] == "ephemeral" and card["replace_original"] is False
    assert listed_ref_ids(card) == ["slow001"]

    ack = answer(running.slack.command("stats 1h", response_key="slow-stats"))
    assert "Reading the transaction stats" in visible_text(ack)
    (stats,) = running.fake_slack.wait_for_response("slow-stats")
    assert "*1* transaction in the last 1 h" in visible_text(stats)


def test_a_database_that_fails_is_said_plainly(running_bot: RunningBot) -> None:
    with running_bot.bot.services.database.engine.begin() as connection:
        connection.execute(text("DROP TABLE transaction_events"))
        connection.execute(text("DROP TABLE transactions"))
    for command in ("pending", "stats"):
        message = answer(running_bot.slack.command(command))
        assert "database did not answer" in visible_text(message)
        assert "/iak status" in visible_text(message)
