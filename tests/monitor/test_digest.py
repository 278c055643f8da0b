"""The daily digest: posted once per WIB day at DIGEST_TIME however many processes run,
late when none was up then, never twice after a restart, with its chart in the thread."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.incidents.model import IncidentKind
from bot.incidents.repository import IncidentRepository
from bot.registry import Registry
from bot.store.database import Database
from tests.support.alerts import statements_in_ticks, text_of
from tests.support.digest import (
    BEFORE_DIGEST,
    CHANNEL,
    DAY,
    SEEDED_FIGURES,
    digests,
    process,
    seed_day,
    wib,
)
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.slack import FakeSlack
from tests.support.transactions import record_all, seen


@pytest.mark.slow
async def test_three_processes_post_one_digest_with_its_chart(
    database: Database, registry: Registry, fake_slack: FakeSlack
) -> None:
    seed_day(database.engine, registry)
    clock = FakeClock(BEFORE_DIGEST)
    processes = [process(database, registry, clock, fake_slack, f"p{n}") for n in range(3)]
    for _tick in range(3):
        for each in processes:
            await each.run_once()
        clock.advance(seconds=30)
    assert digests(fake_slack) == []  # 07:31 WIB: not yet

    clock.advance(minutes=30)  # past 08:00 WIB
    for _tick in range(4):
        for each in processes:
            await each.run_once()
        clock.advance(seconds=30)
    # the leader dies without a word; another takes over and keeps ticking all day
    processes.pop(0)
    for _tick in range(20):
        for each in processes:
            await each.run_once()
        clock.advance(minutes=10)

    (posted,) = digests(fake_slack)
    assert posted.args["channel"] == CHANNEL
    text = text_of(posted)
    for figure in SEEDED_FIGURES:
        assert figure in text
    ts = posted.answer["ts"]
    (ticket,) = fake_slack.calls_to("files.getUploadURLExternal")
    (upload,) = fake_slack.uploads()
    (completed,) = fake_slack.calls_to("files.completeUploadExternal")
    assert ticket.args["filename"] == "digest-2026-12-03.png"
    picture = upload.args["content"]
    assert picture.startswith(b"\x89PNG\r\n\x1a\n")
    assert int(ticket.args["length"]) == len(picture)
    assert upload.args["file_id"] == ticket.answer["file_id"]
    assert completed.args["channel_id"] == CHANNEL
    assert completed.args["thread_ts"] == ts
    assert completed.args["files"] == [
        {
            "id": ticket.answer["file_id"],
            "title": "Transactions and failures per hour (WIB), Thu 3 Dec 2026",
        }
    ]


async def test_gathered_beside_the_tick_that_finds_it_due_and_posted_by_the_next(
    database: Database, registry: Registry, fake_slack: FakeSlack
) -> None:
    # At a large reseller's size the figures take seconds to read: the tick that finds the
    # digest due (and holds the write lock every callback waits for on SQLite) only asks
    # for them; they are read in a transaction of their own, and the next tick posts them.
    seed_day(database.engine, registry)
    clock = FakeClock(wib(DAY + timedelta(days=1), 8, 0))
    alone = process(database, registry, clock, fake_slack, "solo")
    with statements_in_ticks(alone.monitor) as in_ticks:
        await alone.monitor.tick()
        assert digests(fake_slack) == [] and not digest_recorded(database)
        await alone.monitor.beside_finished()
        clock.advance(seconds=30)
        await alone.run_once()
    (posted,) = digests(fake_slack)
    for figure in SEEDED_FIGURES:
        assert figure in text_of(posted)
    # the day's sales were summed outside every tick
    assert not [sql for sql, _ in in_ticks if "sum(transactions.price)" in sql]


def digest_recorded(database: Database) -> bool:
    with database.engine.connect() as connection:
        return IncidentRepository(database.engine).recorded(
            connection, IncidentKind.DIGEST, DAY.isoformat()
        )


def heard_of_one_before(database: Database, registry: Registry, day: date) -> None:
    """The bot has been running: one transaction the day before `day`."""
    record_all(
        database.transactions,
        [seen(registry, "earlier", wib(day - timedelta(days=1), 9), "success")],
    )


async def test_a_fresh_install_posts_no_digest_until_its_first_day_with_transactions(
    database: Database, registry: Registry, fake_slack: FakeSlack
) -> None:
    clock = FakeClock(wib(DAY + timedelta(days=1), 9, 0))  # installed the morning after DAY
    bot = process(database, registry, clock, fake_slack, "fresh")
    for _tick in range(3):
        await bot.run_once()
        clock.advance(minutes=10)
    assert fake_slack.calls_to("chat.postMessage") == []  # DAY was before the bot
    record_all(database.transactions, [seen(registry, "first", clock.now(), "success")])
    clock.advance(days=1)  # the morning after its first day with a transaction
    await bot.run_once()  # gathered beside this tick
    await bot.run_once()  # and posted at the next
    (posted,) = fake_slack.calls_to("chat.postMessage")
    assert "Daily digest · Fri 4 Dec 2026" in text_of(posted)


async def test_posted_late_the_same_day_when_no_process_was_up(
    database: Database, registry: Registry, fake_slack: FakeSlack
) -> None:
    heard_of_one_before(database, registry, DAY)
    clock = FakeClock(wib(DAY + timedelta(days=1), 15, 40))  # everything was down at 08:00
    first = process(database, registry, clock, fake_slack, "late")
    await first.run_once()
    await first.run_once()
    assert len(digests(fake_slack)) == 1
    # a restart the same afternoon: the day's digest is not posted again
    await first.monitor.release()
    clock.advance(minutes=5)
    again = process(database, registry, clock, fake_slack, "restarted")
    for _tick in range(5):
        await again.run_once()
        clock.advance(minutes=1)
    assert len(digests(fake_slack)) == 1
    assert "No transactions that day." in text_of(digests(fake_slack)[0])


async def test_a_day_missed_entirely_is_not_posted_the_day_after(
    database: Database, registry: Registry, fake_slack: FakeSlack
) -> None:
    # Down from before 08:00 on the 4th until 07:00 on the 5th: the 3rd's digest is stale.
    heard_of_one_before(database, registry, DAY)
    clock = FakeClock(wib(DAY + timedelta(days=2), 7, 0))
    alone = process(database, registry, clock, fake_slack, "back")
    await alone.run_once()
    assert fake_slack.calls_to("chat.postMessage") == []
    clock.advance(hours=1)  # 08:00 on the 5th: the 4th's digest, not the 3rd's
    await alone.run_once()
    await alone.run_once()
    (posted,) = fake_slack.calls_to("chat.postMessage")
    assert "Daily digest · Fri 4 Dec 2026" in text_of(posted)


async def test_the_digest_posts_without_its_chart_when_the_upload_fails(
    database: Database, registry: Registry, fake_slack: FakeSlack
) -> None:
    heard_of_one_before(database, registry, DAY)
    clock = FakeClock(wib(DAY + timedelta(days=1), 8, 0))
    fake_slack.fail("files.getUploadURLExternal", "missing_scope")
    alone = process(database, registry, clock, fake_slack, "solo")
    await alone.run_once()
    await alone.run_once()
    assert len(digests(fake_slack)) == 1
    assert fake_slack.uploads() == []
    assert fake_slack.calls_to("files.completeUploadExternal") == []
    # the channel is not blocked by it: the next alert goes out
    assert alone.notifier.blocked == {}
    assert (await alone.notifier.deliver()).held == 0


async def test_an_upload_url_that_keeps_failing_is_given_up_after_a_few_tries(
    database: Database, registry: Registry, fake_slack: FakeSlack
) -> None:
    from tests.support.fakes.slack import UPLOAD_METHOD, Reply

    heard_of_one_before(database, registry, DAY)
    clock = FakeClock(wib(DAY + timedelta(days=1), 8, 0))
    fake_slack.script(UPLOAD_METHOD, *[Reply(500, {"error": "boom"})] * 10)
    alone = process(database, registry, clock, fake_slack, "solo")
    for _pass in range(10):
        await alone.run_once()
        clock.advance(minutes=2)
    assert len(digests(fake_slack)) == 1
    assert len(fake_slack.uploads()) == 3
    assert fake_slack.calls_to("files.completeUploadExternal") == []
    health = alone.monitor.incidents.outbox_health()
    assert health.backlog == 0
    assert health.failed == 1 and "chart not uploaded" in (health.last_error or "")
