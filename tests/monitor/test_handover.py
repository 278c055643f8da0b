"""The shift handover: posted once to the ops channel at each HANDOVER_TIMES slot (WIB), and
asked for with `/iak handover` or `iak-bot handover`. Driven through the real routes, signed
Slack payloads, the fake Slack and the fake clock, on SQLite and Postgres."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from bot.registry import Registry
from bot.store.db import create_db_engine
from bot.store.transactions import TransactionStore
from tests.support.alerts import (
    Shop,
    buttons_of,
    click,
    delivered_parents,
    parent_ts,
    parents,
    settle,
    text_of,
    wait_until,
)
from tests.support.bot import RunningBot
from tests.support.cli import clean_env, iak_bot
from tests.support.db import sqlite_copy
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.slack import FakeSlack
from tests.support.messages import answer, visible_text
from tests.support.transactions import record_all, seen


def handovers(slack: FakeSlack) -> list[str]:
    return [text_of(call) for call in parents(slack) if "Shift handover" in text_of(call)]


def busy_shift(bot: RunningBot, clock: FakeClock, slack: FakeSlack) -> None:
    """A pending transaction that aged out (its incident muted for an hour), then an rc 07
    spike someone acknowledged: the fake clock starts at 10:00 WIB, and it is 10:16 after."""
    shop = Shop(bot)
    shop.pending("slow1")
    clock.advance(minutes=16)
    parent_ts(slack, 0)
    pending_id = buttons_of(delivered_parents(slack)[0])["incident_ack"]["value"]
    click(bot, "incident_mute", f"{pending_id}:60", select=True, user="U0MUTER", key="mute")
    slack.wait_for_response("mute")
    for n in range(3):
        shop.callback(f"f{n}", "2", "07", product="tsel10")
    parent_ts(slack, 1)
    spike_id = buttons_of(delivered_parents(slack)[1])["incident_ack"]["value"]
    click(bot, "incident_ack", spike_id, user="U0LEAD", key="ack")
    slack.wait_for_response("ack")
    incidents = bot.bot.services.incidents
    wait_until(lambda: any(i.muted_by == "U0MUTER" for i in incidents.open_incidents()))
    wait_until(lambda: any(i.acknowledged_by == "U0LEAD" for i in incidents.open_incidents()))


def test_the_handover_is_posted_once_at_its_slot_with_what_the_next_shift_needs(
    monitored: Callable[..., RunningBot],
    clock: FakeClock,
    fake_slack: FakeSlack,
    database_url: str,
) -> None:
    bot = monitored(database_url=database_url, handover_times="10:18,22:00")
    busy_shift(bot, clock, fake_slack)  # 10:16 WIB now
    settle(bot)
    assert handovers(fake_slack) == []  # 10:18 has not come
    clock.advance(minutes=2)  # 10:18 WIB, the spike still open
    wait_until(lambda: len(handovers(fake_slack)) == 1)
    settle(bot)
    settle(bot)
    (shown,) = handovers(fake_slack)  # once, however many ticks see the slot
    assert "Shift handover · 10:18 WIB" in shown
    assert "*Open incidents* (2)" in shown
    assert "07 FAILED" in shown and "acknowledged by <@U0LEAD>" in shown
    assert "nobody has acknowledged it" in shown  # the pending incident
    assert "muted until 28 Nov 11:16 WIB by <@U0MUTER>" in shown
    assert "Pending for over 15 min" in shown and "1 transaction, the oldest waiting" in shown
    assert "Never sell them again under a new ref_id" in shown
    assert "*Failures in the last 8 h* · 3" in shown
    assert "0817777215" not in shown  # customer numbers never reach it
    # an hour past a slot nobody posted is too late: 22:00 comes with nothing missed
    clock.advance(hours=12)
    wait_until(lambda: len(handovers(fake_slack)) == 2)
    assert "Shift handover · 22:00 WIB" in handovers(fake_slack)[1]


def test_a_slot_missed_by_over_an_hour_is_not_posted_late(
    monitored: Callable[..., RunningBot], clock: FakeClock, fake_slack: FakeSlack
) -> None:
    clock.advance(hours=1, minutes=5)  # 11:05 WIB: the 10:00 slot is over an hour old
    bot = monitored(handover_times="10:00")
    settle(bot)
    assert handovers(fake_slack) == []


def test_the_handover_speaks_the_channels_language(
    monitored: Callable[..., RunningBot], clock: FakeClock, fake_slack: FakeSlack
) -> None:
    bot = monitored(handover_times="10:01", bot_language="id")
    clock.advance(minutes=2)
    wait_until(lambda: any("Serah terima shift" in text_of(c) for c in parents(fake_slack)))
    shown = text_of(parents(fake_slack)[0])
    assert "Serah terima shift · 10:01 WIB" in shown
    assert "Tidak ada. Semua aman." in shown  # no open incident
    settle(bot)


def test_iak_handover_answers_the_person_and_is_restricted_like_status(
    monitored: Callable[..., RunningBot], clock: FakeClock, fake_slack: FakeSlack
) -> None:
    bot = monitored(allowed_users=["U0OPS0001", "U0LEAD", "U0MUTER"], admin_users=["U0MUTER"])
    busy_shift(bot, clock, fake_slack)
    asked = answer(bot.slack.command("handover", user_id="U0OPS0001"))
    assert asked.get("response_type") == "ephemeral"
    shown = visible_text(asked)
    assert "Shift handover · 28 Nov 10:16 WIB" in shown
    assert "acknowledged by <@U0LEAD>" in shown and "Pending for over 15 min" in shown
    refused = visible_text(answer(bot.slack.command("handover", user_id="U0STRANGER")))
    assert "Shift handover" not in refused and "only show transaction details" in refused


def test_handover_times_must_be_wib_clock_times() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(_env_file=None, handover_times="08:00,4pm")
    assert "HANDOVER_TIMES" in str(refused.value) and "4pm" in str(refused.value)
    assert load_settings(_env_file=None, handover_times="").handover_times == ()


def test_iak_bot_handover_prints_it(
    sqlite_template: Path, tmp_path: Path, registry: Registry
) -> None:
    url = sqlite_copy(sqlite_template, tmp_path)
    engine = create_db_engine(url)
    now = datetime.now(UTC)
    record_all(
        TransactionStore(engine),
        [
            seen(registry, "old-1", now - timedelta(hours=2)),
            seen(registry, "bad-1", now - timedelta(hours=1), "failed", rc="14"),
            seen(registry, "bad-2", now - timedelta(hours=9), "failed", rc="17"),
        ],
    )
    engine.dispose()
    printed = iak_bot("handover", cwd=tmp_path, env=clean_env(DATABASE_URL=url))
    assert printed.returncode == 0, printed.stderr
    assert "Shift handover" in printed.stdout
    assert "None. All quiet." in printed.stdout
    assert "1 transaction, the oldest waiting 2 h" in printed.stdout
    assert "INCORRECT DESTINATION NUMBER" in printed.stdout  # the last 8 hours' failure
    assert "INSUFFICIENT DEPOSIT" not in printed.stdout  # nine hours ago
