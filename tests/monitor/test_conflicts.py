"""Scenario: answers that disagree on a transaction's outcome. Nothing is silently dropped:
the bot asks IAK, stores what IAK says, and tells the ops channel in an incident of its
own, one per ref_id."""

from __future__ import annotations

from collections.abc import Callable

from bot.outcomes import Outcome
from tests.conftest import RunningBot
from tests.fakes.clock import FakeClock
from tests.fakes.iak import FakeIak, IakReply, transaction
from tests.fakes.slack import FakeSlack
from tests.support.alerts import (
    Shop,
    delivered_parents,
    parent_ts,
    replies,
    text_of,
    wait_until,
)


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
