"""The notifier on its own: a real outbox (SQLite), the fake Slack, and a clock the test moves.
Each pass is one call of `deliver`; time passes only when the test says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import insert

from bot.incidents.kinds.spike import SpikeUpdate
from bot.incidents.model import (
    IncidentChange,
    IncidentKind,
    Intent,
    ParentState,
    PostParent,
    ThreadReply,
    UpdateParent,
)
from bot.incidents.repository import IncidentRepository
from bot.registry import Registry
from bot.slack.alerts.notifier import Notifier
from bot.store.db import create_db_engine
from bot.store.schema import outbox
from tests.support.alerts import spike_details
from tests.support.bot import BOT_TOKEN
from tests.support.db import sqlite_copy
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.slack import FakeSlack
from tests.support.messages import visible_text

CHANNEL = "C0ALERTS"
START = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


@pytest.fixture
def repository(sqlite_template: Path, tmp_path: Path) -> Iterator[IncidentRepository]:
    engine = create_db_engine(sqlite_copy(sqlite_template, tmp_path))
    yield IncidentRepository(engine)
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


class Lease:
    """Whether the notifier's process holds the monitor's lease; tests flip it."""

    held = True

    def __call__(self, now: datetime) -> bool:
        return self.held


@pytest.fixture
def lease() -> Lease:
    return Lease()


@pytest.fixture
def client(fake_slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url, retry_handlers=[])


def notifier(
    repository: IncidentRepository,
    client: AsyncWebClient,
    registry: Registry,
    clock: FakeClock,
    lease: Lease,
    *,
    pace_seconds: float = 1.0,
) -> Notifier:
    return Notifier(repository, client, registry, clock, may_send=lease, pace_seconds=pace_seconds)


@pytest.fixture
def make(
    repository: IncidentRepository,
    client: AsyncWebClient,
    registry: Registry,
    clock: FakeClock,
    lease: Lease,
) -> Notifier:
    return notifier(repository, client, registry, clock, lease)


def open_incident(
    repository: IncidentRepository, rc: str, *intents: Intent, incident_id: int | None = None
) -> int:
    """Open (or change) a spike incident of `rc`, with these Slack operations."""
    change = IncidentChange(
        IncidentKind.SPIKE, rc, incident_id, spike_details(rc, START), intents or (PostParent(),)
    )
    with repository.writing() as connection:
        return repository.apply_change(connection, change, START, CHANNEL)


def update(total: int) -> ThreadReply:
    return ThreadReply(SpikeUpdate(count=total, expected=1.0, total=total, previous_total=1))


async def test_posts_are_paced_per_channel(
    make: Notifier, repository: IncidentRepository, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    open_incident(repository, "07")
    open_incident(repository, "14")
    first = await make.deliver()
    assert (first.sent, first.held) == (1, 1)
    assert first.retry_at == START + timedelta(seconds=1)
    clock.advance(seconds=0.5)
    assert (await make.deliver()).sent == 0
    clock.advance(seconds=0.5)
    assert (await make.deliver()).sent == 1
    texts = [visible_text(call.args) for call in fake_slack.calls_to("chat.postMessage")]
    assert ["07 FAILED" in texts[0], "14 " in texts[1]] == [True, True]


async def test_a_429_waits_as_long_as_slack_says(
    make: Notifier, repository: IncidentRepository, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    fake_slack.rate_limit("chat.postMessage", retry_after=7)
    open_incident(repository, "07")
    report = await make.deliver()
    assert report.sent == 0 and report.retry_at == START + timedelta(seconds=7)
    clock.advance(seconds=6)
    await make.deliver()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1  # not asked again yet
    clock.advance(seconds=1)
    assert (await make.deliver()).sent == 1
    assert [c.answer["_status"] for c in fake_slack.calls_to("chat.postMessage")] == [429, 200]


async def test_an_outage_is_retried_with_doubling_waits_capped_at_a_minute(
    make: Notifier, repository: IncidentRepository, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    fake_slack.set_down("503")
    open_incident(repository, "07")
    waits = []
    for _ in range(9):
        report = await make.deliver()
        assert report.sent == 0 and report.retry_at is not None
        wait = report.retry_at - clock.now()
        waits.append(wait.total_seconds())
        clock.advance(seconds=wait.total_seconds())
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    fake_slack.set_down(None)
    assert (await make.deliver()).sent == 1
    assert repository.outbox_health().backlog == 0


async def test_a_permanent_error_stops_the_channel_and_keeps_the_alerts(
    make: Notifier, repository: IncidentRepository, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    fake_slack.fail("chat.postMessage", "not_in_channel")
    open_incident(repository, "07")
    open_incident(repository, "14")
    report = await make.deliver()
    assert report.sent == 0 and report.errors == ["not_in_channel"]
    assert make.blocked == {CHANNEL: "not_in_channel"}
    clock.advance(minutes=10)
    await make.deliver()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1  # not hammered
    assert repository.outbox_health().backlog == 2  # waiting for an operator, not lost


async def test_a_reply_never_goes_before_its_parent_and_stale_edits_are_dropped(
    make: Notifier, repository: IncidentRepository, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    incident = open_incident(repository, "07")
    open_incident(repository, "07", update(30), UpdateParent(), incident_id=incident)
    open_incident(repository, "07", UpdateParent(), incident_id=incident)
    fake_slack.set_down("503")
    await make.deliver()
    fake_slack.set_down(None)
    clock.advance(seconds=1)
    sent = await make.deliver()
    # the parent, and (paced) nothing else yet
    assert sent.sent == 1
    for _ in range(3):
        clock.advance(seconds=1)
        await make.deliver()
    posts = [c for c in fake_slack.calls_to("chat.postMessage") if c.answer.get("ok")]
    parent, reply = posts
    assert reply.args["thread_ts"] == parent.answer["ts"]
    assert "30 failures since this started" in visible_text(reply.args)
    assert len(fake_slack.calls_to("chat.update")) == 1  # two queued edits, one sent


async def test_an_unreadable_row_fails_alone_and_holds_nothing_back(
    make: Notifier, repository: IncidentRepository, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    poisoned = open_incident(repository, "07")
    with repository.writing() as connection:
        connection.execute(
            insert(outbox),
            [
                {
                    "incident_id": poisoned,
                    "channel": CHANNEL,
                    "action": "reply",
                    "payload": {"type": "no_such_reply", "broadcast": False},
                    "state": "pending",
                    "created_at": START,
                }
            ]
            * 150,
        )
    fresh = open_incident(repository, "14")
    for _ in range(5):
        await make.deliver()
        clock.advance(seconds=1)
    texts = [visible_text(c.args) for c in fake_slack.calls_to("chat.postMessage")]
    assert any(text.startswith("14 ") for text in texts)  # the new incident arrived
    health = repository.outbox_health()
    assert health.failed == 150 and health.backlog == 0
    assert health.last_error is not None and "no_such_reply" in health.last_error
    assert repository.get(fresh) is not None


async def test_a_parent_slack_refuses_for_good_takes_its_thread_with_it(
    make: Notifier, repository: IncidentRepository, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    fake_slack.fail("chat.postMessage", "invalid_blocks")
    incident = open_incident(repository, "07")
    open_incident(repository, "07", update(30), incident_id=incident)
    report = await make.deliver()
    assert report.failed == 2
    stored = repository.get(incident)
    assert stored is not None and stored.parent_state is ParentState.FAILED
    # later changes queue nothing for a thread that does not exist
    open_incident(repository, "07", update(60), UpdateParent(), incident_id=incident)
    assert repository.outbox_health().backlog == 0
    assert repository.outbox_health().failed == 2


async def test_nothing_is_sent_without_the_lease(
    make: Notifier, repository: IncidentRepository, lease: Lease, fake_slack: FakeSlack
) -> None:
    open_incident(repository, "07")
    lease.held = False
    assert (await make.deliver()).sent == 0
    assert fake_slack.calls_to("chat.postMessage") == []
    lease.held = True
    assert (await make.deliver()).sent == 1


async def test_an_acknowledged_incident_no_longer_broadcasts(
    make: Notifier, repository: IncidentRepository, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    incident = open_incident(repository, "07")
    await make.deliver()
    repository.acknowledge(incident, "U0LEAD", START)
    doubled = ThreadReply(SpikeUpdate(count=24, expected=1, total=24, previous_total=12), True)
    open_incident(repository, "07", doubled, incident_id=incident)
    for _ in range(4):
        clock.advance(seconds=1)
        await make.deliver()
    replies = [c for c in fake_slack.calls_to("chat.postMessage") if c.args.get("thread_ts")]
    assert visible_text(replies[0].args).startswith("Acknowledged by <@U0LEAD>")
    assert replies[0].args["blocks"][0]["text"]["text"].count("<@U0LEAD>") == 1  # a mention
    assert all(c.args.get("reply_broadcast") in (None, False, "false", "0") for c in replies)


async def test_a_row_slack_never_takes_holds_no_other_incident_back_and_is_given_up(
    make: Notifier, repository: IncidentRepository, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    """Slack answers one incident's parent with a retryable error for ever: the incidents
    queued after it still go out, and the row is given up and counted."""
    fake_slack.refuse_messages("chat.postMessage", "07 FAILED", "internal_error")
    open_incident(repository, "07")
    open_incident(repository, "14")
    open_incident(repository, "16")
    for _ in range(12):
        report = await make.deliver()
        clock.advance(
            seconds=(report.retry_at - clock.now()).total_seconds() if report.retry_at else 1
        )
    taken = [
        visible_text(call.args)
        for call in fake_slack.calls_to("chat.postMessage")
        if call.answer.get("ok")
    ]
    assert [text.split(" ")[0] for text in taken] == ["14", "16"]
    health = repository.outbox_health()
    assert (health.backlog, health.given_up) == (0, 1)
    assert health.last_error is not None and "given up after 5 attempts" in health.last_error


async def test_an_outage_alone_never_gives_a_row_up_before_a_day(
    make: Notifier, repository: IncidentRepository, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    fake_slack.set_down("503")
    open_incident(repository, "07")
    for _ in range(30):
        report = await make.deliver()
        assert report.retry_at is not None
        clock.advance(seconds=(report.retry_at - clock.now()).total_seconds())
    assert repository.outbox_health().given_up == 0
    fake_slack.set_down(None)
    assert (await make.deliver()).sent == 1


async def test_after_an_outage_a_parent_that_stops_sales_goes_first_and_stale_replies_are_folded(
    make: Notifier, repository: IncidentRepository, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    spike = open_incident(repository, "07")
    assert (await make.deliver()).sent == 1  # its parent is in the channel
    fake_slack.set_down("503")
    for total in (20, 40, 80):
        open_incident(repository, "07", update(total), incident_id=spike)
    clock.advance(seconds=1)
    assert (await make.deliver()).errors  # Slack is down
    clock.advance(hours=2)  # Slack is down for two hours; then sales stop
    stops = IncidentChange(
        IncidentKind.SPIKE,
        "17",
        None,
        spike_details("17", clock.now(), stops_sales=True),
        (PostParent(),),
    )
    with repository.writing() as connection:
        repository.apply_change(connection, stops, clock.now(), CHANNEL)
    fake_slack.set_down(None)
    for _ in range(4):
        await make.deliver()
        clock.advance(seconds=1)
    taken = [c for c in fake_slack.calls_to("chat.postMessage") if c.answer.get("ok")]
    assert "17" in visible_text(taken[1].args) and not taken[1].args.get("thread_ts")
    replies = [visible_text(c.args) for c in taken[2:]]
    assert len(replies) == 1
    assert "3 updates from" in replies[0] and "were not posted" in replies[0]
