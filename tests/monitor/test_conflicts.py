"""Scenario: answers that disagree on a transaction's outcome. Nothing is silently dropped:
the bot asks IAK, stores what IAK says, and tells the ops channel in an incident of its
own, one per ref_id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.iak.client import IakClient, IakEndpoint
from bot.incidents.config import MonitorConfig
from bot.incidents.model import IncidentKind
from bot.incidents.repository import IncidentRepository
from bot.incidents.tick import Monitor
from bot.outcomes import Outcome, Source
from bot.registry import Registry
from bot.store.database import Database
from bot.store.schema import incidents
from tests.support.alerts import (
    Shop,
    delivered_parents,
    parent_ts,
    replies,
    text_of,
    wait_until,
)
from tests.support.bot import IAK_API_KEY, IAK_USERNAME, RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.iak import FakeIak, IakReply, transaction
from tests.support.fakes.slack import FakeSlack
from tests.support.transactions import record_all, seen


def stored(bot: RunningBot, ref_id: str) -> Outcome | None:
    state = bot.bot.services.database.transactions.get(ref_id)
    return state.outcome if state else None


def test_a_success_callback_after_a_failed_answer_is_checked_at_iak_and_told(
    monitored: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    fake_iak: FakeIak,
    clock: FakeClock,
    database_url: str,
) -> None:
    bot = monitored(database_url=database_url)
    shop = Shop(bot)
    fake_iak.always("cf-1", IakReply(200, transaction("cf-1", "success")))
    shop.forward("cf-1", status=2, rc="07")  # the backend says it failed
    assert stored(bot, "cf-1") is Outcome.FAILED
    shop.callback("cf-1", "1", "00")  # IAK's signed callback says it succeeded
    ts = parent_ts(fake_slack)
    parent = text_of(delivered_parents(fake_slack)[0])
    assert "Conflicting outcomes for cf-1" in parent
    assert "the backend said failed (rc 07)" in parent
    assert "IAK's callback said success (rc 00)" in parent
    # the monitor asked IAK, stored its answer, and said so in the thread
    wait_until(lambda: stored(bot, "cf-1") is Outcome.SUCCESS, clock=clock, timeout=15)
    wait_until(lambda: bool(replies(fake_slack, ts)), clock=clock, timeout=15)
    said = text_of(replies(fake_slack, ts)[0])
    assert "IAK's own check says success" in said and "it was failed" in said
    assert fake_iak.calls_for("cf-1")
    wait_until(lambda: any("Settled" in text_of(c) for c in fake_slack.calls_to("chat.update")))
    assert len(delivered_parents(fake_slack)) == 1


def test_a_forged_callback_does_not_change_what_iak_confirms(
    monitored: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    fake_iak: FakeIak,
    clock: FakeClock,
) -> None:
    """A callback's sign proves the ref_id, not the outcome: a "failed" for a top-up that
    succeeded is checked, not believed, and the success stays."""
    bot = monitored()
    shop = Shop(bot)
    fake_iak.always("cf-2", IakReply(200, transaction("cf-2", "success")))
    shop.callback("cf-2", "1", "00")
    shop.callback("cf-2", "2", "07")  # signed, but contradicts
    shop.callback("cf-2", "2", "14")  # and again: still one incident
    ts = parent_ts(fake_slack)
    wait_until(lambda: bool(replies(fake_slack, ts)), clock=clock, timeout=15)
    assert "IAK's own check confirms success" in text_of(replies(fake_slack, ts)[0])
    assert stored(bot, "cf-2") is Outcome.SUCCESS
    wait_until(lambda: any("Settled" in text_of(c) for c in fake_slack.calls_to("chat.update")))
    assert len(delivered_parents(fake_slack)) == 1


def test_while_iak_cannot_say_the_conflict_stays_open_and_is_asked_again(
    monitored: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    fake_iak: FakeIak,
    clock: FakeClock,
) -> None:
    bot = monitored()
    shop = Shop(bot)
    fake_iak.always("cf-3", IakReply(503, raw=b"down"))
    shop.callback("cf-3", "1", "00")
    shop.forward("cf-3", status=2, rc="07")
    ts = parent_ts(fake_slack)
    wait_until(lambda: len(fake_iak.calls_for("cf-3")) >= 2, clock=clock, timeout=10)
    assert replies(fake_slack, ts) == []  # nothing settled: no resolution
    assert bot.bot.services.incidents.open_incidents()
    fake_iak.always("cf-3", IakReply(200, transaction("cf-3", "failed")))
    wait_until(lambda: stored(bot, "cf-3") is Outcome.FAILED, clock=clock, timeout=10)
    wait_until(lambda: bool(replies(fake_slack, ts)), clock=clock, timeout=15)
    assert "now stored as failed (it was success)" in text_of(replies(fake_slack, ts)[0])


async def test_a_conflict_is_told_even_when_iak_settles_it_before_the_next_tick(
    database_url: str, registry: Registry, fake_iak: FakeIak
) -> None:
    """A re-check batch starts right after each tick. A contradiction that lands between a
    tick and that batch must still reach the channel: IAK is asked about a conflict only
    once its incident is open, so its answer settles a conflict the channel knows of."""
    database = Database(database_url)
    repository = IncidentRepository(database.engine)
    clock = FakeClock(datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    fake_iak.always("cf-race", IakReply(200, transaction("cf-race", "success")))
    iak = IakClient(
        username=IAK_USERNAME,
        api_key=IAK_API_KEY,
        endpoint=IakEndpoint("development", fake_iak.url),
        postpaid_endpoint=IakEndpoint("development", fake_iak.url),
        registry=registry,
    )
    monitor = Monitor(
        database=database,
        incidents=repository,
        registry=registry,
        clock=clock,
        config=MonitorConfig(
            interval=timedelta(seconds=30),
            age_out=timedelta(minutes=15),
            spike_window=timedelta(minutes=5),
            spike_min_failures=10,
            spike_factor=3,
            low_balance_threshold=None,
        ),
        channel="C0OPS",
        iak=iak,
    )

    def conflict() -> str | None:
        """The status of the conflict incident about cf-race, if one was ever opened."""
        with database.engine.connect() as connection:
            return connection.execute(
                select(incidents.c.status).where(
                    incidents.c.kind == IncidentKind.CONFLICT.value, incidents.c.key == "cf-race"
                )
            ).scalar_one_or_none()

    try:
        monitor._decide_and_write(clock.now())  # a tick: nothing to say yet
        now = clock.now()
        record_all(database.transactions, [seen(registry, "cf-race", now, "failed", rc="07")])
        record_all(
            database.transactions,
            [seen(registry, "cf-race", now, "success", source=Source.CALLBACK)],
        )
        await monitor.recheck()  # the batch that follows that tick
        monitor._decide_and_write(clock.advance(seconds=30))
        assert conflict() == "open", "the channel was never told of the contradiction"
        await monitor.recheck()  # now IAK is asked, and settles it
        assert len(fake_iak.calls_for("cf-race")) == 1
        monitor._decide_and_write(clock.advance(seconds=30))
        assert conflict() == "resolved"
        assert stored_in(database, "cf-race") is Outcome.SUCCESS
    finally:
        await iak.aclose()
        database.close()


def stored_in(database: Database, ref_id: str) -> Outcome | None:
    state = database.transactions.get(ref_id)
    return state.outcome if state else None
