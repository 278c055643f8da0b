"""RETENTION_DAYS: the monitor's leader deletes what is old and blanks what is private,
driven through real ticks and read back from the database."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, text, update

from bot.config import Settings
from bot.incidents.config import MonitorConfig
from bot.incidents.model import IncidentChange, IncidentKind, PostParent
from bot.incidents.repository import IncidentRepository
from bot.incidents.tick import Monitor
from bot.registry import Registry
from bot.store.database import Database
from bot.store.db import create_db_engine
from bot.store.retention import Retention, RetentionPolicy, RetentionReport
from bot.store.schema import (
    callback_refusals,
    incidents,
    outbox,
    retention,
    transaction_events,
    transaction_keys,
    transactions,
)
from tests.support.alerts import CONFIG, monitor_on, spike_details, wait_until
from tests.support.bot import RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.metrics import METRICS_TOKEN, health_details, scrape
from tests.support.transactions import CUSTOMER, record_all, seen

DAY = timedelta(days=1)
SERIAL = "1234-5678-9012-3456-7890"
FRESH_SERIAL = "5555-6666-7777-8888-9999"


class Reports:
    """The monitor's metrics, as far as retention goes: every run's report."""

    def __init__(self) -> None:
        self.runs: list[RetentionReport] = []

    def monitor_tick(self, seconds: float, *, leader: bool) -> None:
        pass

    def monitor_tick_failed(self) -> None:
        pass

    def retention_ran(self, report: RetentionReport) -> None:
        self.runs.append(report)


def monitor(
    database: Database,
    clock: FakeClock,
    registry: Registry,
    name: str = "leader",
    *,
    days: int = 90,
    metrics: Reports | None = None,
) -> Monitor:
    return monitor_on(
        database,
        registry,
        clock,
        replace(CONFIG, retention_days=days),
        channel="C1",
        holder=name,
        metrics=metrics,
    )


def seed(database: Database, registry: Registry, now: datetime) -> dict[str, int]:
    """Transactions, incidents, outbox rows and refusals of every age that matters; returns
    the incidents' ids by name."""
    observations = [
        # final and older than 90 days: deleted with their history
        seen(registry, "old-success", now - 100 * DAY),
        seen(registry, "old-success", now - 100 * DAY + timedelta(minutes=1), "success"),
        seen(registry, "old-failed", now - 95 * DAY, "failed", rc="14"),
        # never final: kept however old (its history blanked)
        seen(registry, "old-pending", now - 100 * DAY),
        # final, 40 days old: kept; its history blanked of customer number and serial
        seen(registry, "month-old", now - 40 * DAY, "success", sn=SERIAL),
        # yesterday: kept as it is
        seen(registry, "fresh", now - DAY, "success", sn=FRESH_SERIAL),
    ]
    # one at a time, as they happened: the history's ids grow with its time
    for observation in sorted(observations, key=lambda seen: seen.observed_at):
        record_all(database.transactions, [observation])
    repository = IncidentRepository(database.engine)
    ids: dict[str, int] = {}
    with repository.writing() as connection:
        for name, opened, resolved in [
            ("resolved-old", now - 100 * DAY, now - 91 * DAY),
            ("resolved-recent", now - 20 * DAY, now - 10 * DAY),
            ("open-old", now - 100 * DAY, None),
        ]:
            change = IncidentChange(
                IncidentKind.SPIKE, name, None, spike_details("17", opened), (PostParent(),)
            )
            ids[name] = repository.apply_change(connection, change, opened, "C1")
            if resolved is not None:
                connection.execute(
                    update(incidents)
                    .where(incidents.c.id == ids[name])
                    .values(status="resolved", resolved_at=resolved)
                )
            # its parent was posted when it opened
            connection.execute(
                update(outbox).where(outbox.c.incident_id == ids[name]).values(state="sent")
            )
        # a pending transaction that joined the old incident outlives it
        connection.execute(
            update(transactions)
            .where(transactions.c.ref_id == "old-pending")
            .values(incident_id=ids["resolved-old"])
        )
        recent = ids["resolved-recent"]
        for state, age in [
            ("sent", 8 * DAY),
            ("failed", 8 * DAY),
            ("given_up", 8 * DAY),
            ("superseded", 8 * DAY),
            ("sent", 6 * DAY),
            ("failed", 6 * DAY),
        ]:
            connection.execute(
                insert(outbox).values(
                    incident_id=recent,
                    channel="C1",
                    action="reply",
                    payload={"type": "test", "state": state, "days": age.days},
                    state=state,
                    created_at=now - age,
                    sent_at=now - age,
                )
            )
        for age in (100 * DAY, 2 * DAY):
            connection.execute(
                insert(callback_refusals).values(
                    reason="bad_sign",
                    count=3,
                    first_at=now - age,
                    last_at=now - age,
                    address="203.0.113.9",
                )
            )
    return ids


def ref_ids(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(select(transactions.c.ref_id)))


def history(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Each transaction's history payloads, oldest first."""
    found: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as connection:
        rows = connection.execute(
            select(transaction_events.c.ref_id, transaction_events.c.data).order_by(
                transaction_events.c.id
            )
        )
        for ref_id, data in rows:
            found.setdefault(ref_id, []).append(data)
    return found


def outbox_rows(engine: Engine) -> list[tuple[int, str, int | None]]:
    with engine.connect() as connection:
        return [
            (row.incident_id, row.state, row.payload.get("days"))
            for row in connection.execute(select(outbox).order_by(outbox.c.id))
        ]


def counts(engine: Engine) -> dict[str, int]:
    tables = (transactions, transaction_events, incidents, outbox, callback_refusals)
    with engine.connect() as connection:
        return {
            table.name: connection.scalar(select(func.count()).select_from(table)) or 0
            for table in tables
        }


async def test_the_leader_deletes_what_is_old_and_blanks_what_is_private(
    database: Database, registry: Registry
) -> None:
    clock = FakeClock()
    now = clock.now()
    ids = seed(database, registry, now)
    before = history(database.engine)
    reports = Reports()
    leader = monitor(database, clock, registry, metrics=reports)

    assert (await leader.tick()).leader
    await leader.retention_finished()

    engine = database.engine
    # final and old: gone with their history; pending (however old) and recent: kept
    assert ref_ids(engine) == {"old-pending", "month-old", "fresh"}
    after = history(engine)
    assert set(after) == {"old-pending", "month-old", "fresh"}
    # history over 30 days old: customer number and serial blanked, nothing else lost
    for ref_id in ("old-pending", "month-old"):
        assert len(after[ref_id]) == len(before[ref_id])
        for old, new in zip(before[ref_id], after[ref_id], strict=True):
            assert old["customer_id"] == CUSTOMER
            assert new == {**old, "customer_id": None, "sn": None}
    assert before["month-old"][0]["sn"] == SERIAL
    # what /iak find looks them up by (customer number, serial) went with them
    with engine.connect() as connection:
        keyed = set(connection.scalars(select(transaction_keys.c.ref_id).distinct()))
    assert keyed <= {"old-pending", "month-old", "fresh"}
    assert "fresh" in keyed
    # yesterday's: untouched
    assert after["fresh"] == before["fresh"]
    assert after["fresh"][0]["customer_id"] == CUSTOMER
    assert after["fresh"][0]["sn"] == FRESH_SERIAL

    # resolved over 90 days ago: gone with its outbox rows; open and recent: kept
    with engine.connect() as connection:
        kept = set(connection.scalars(select(incidents.c.key)))
        joined = connection.scalar(
            select(transactions.c.incident_id).where(transactions.c.ref_id == "old-pending")
        )
    assert kept == {"resolved-recent", "open-old"}
    assert joined is None
    # outbox: delivered or dropped over 7 days ago gone, the rest kept
    rows = outbox_rows(engine)
    assert ids["resolved-old"] not in {incident for incident, _, _ in rows}
    assert [(state, days) for incident, state, days in rows if days is not None] == [
        ("sent", 6),
        ("failed", 6),
    ]
    # the parents posted when the two kept incidents opened (10 and 100 days ago) are gone,
    # a new one may have been queued since (the tick resolved the quiet spike)
    assert all(state == "pending" for _, state, days in rows if days is None)
    with engine.connect() as connection:
        refusals = list(connection.scalars(select(callback_refusals.c.last_at)))
    assert refusals == [now - 2 * DAY]

    [report] = reports.runs
    assert (report.transactions, report.history) == (2, 3)
    assert (report.incidents, report.refusals) == (1, 1)
    assert report.outbox == 1 + 4 + 2  # the old incident's parent; four old rows; two parents
    assert report.blanked == 2
    assert not report.interrupted
    last = leader.retention.last_run() if leader.retention else None
    assert last is not None and last.at == now and last.deleted == report.deleted

    # An hour later it runs again: nothing is left to delete, and no row is blanked again
    # (the bookmark moved past them); a row that aged past 30 days since is.
    clock.advance(seconds=3600)
    assert (await leader.tick()).leader
    await leader.retention_finished()
    assert len(reports.runs) == 2
    assert reports.runs[1].deleted == 0 and reports.runs[1].blanked == 0
    assert history(engine) == after


async def test_blanking_reads_only_the_rows_since_its_bookmark(
    database: Database, registry: Registry
) -> None:
    clock = FakeClock()
    now = clock.now()
    for n in range(5):
        record_all(database.transactions, [seen(registry, f"p{n}", now - 40 * DAY + n * DAY)])
    record_all(database.transactions, [seen(registry, "young", now - 29 * DAY)])
    run = Retention(database.engine, RetentionPolicy(keep=90 * DAY, batch=2))
    assert run.run(now).blanked == 5
    with database.engine.connect() as connection:
        through = connection.scalar(select(retention.c.blanked_through))
        young = connection.scalar(
            select(transaction_events.c.id).where(transaction_events.c.ref_id == "young")
        )
    # stopped before the first row too young to blank
    assert through == young - 1
    # Rows whose blanking was undone by hand stay as they are: the next runs start at the
    # bookmark, not at the beginning of the history.
    with database.engine.begin() as connection:
        connection.execute(
            update(transaction_events)
            .where(transaction_events.c.ref_id == "p0")
            .values(data={"customer_id": CUSTOMER, "sn": None, "ref_id": "p0"})
        )
    assert run.run(now).blanked == 0
    # the young row comes of age two days later
    assert run.run(now + 2 * DAY).blanked == 1
    assert history(database.engine)["p0"][0]["customer_id"] == CUSTOMER


async def test_retention_days_0_keeps_everything(database: Database, registry: Registry) -> None:
    clock = FakeClock()
    seed(database, registry, clock.now())
    before = counts(database.engine), history(database.engine)
    keeper = monitor(database, clock, registry, days=0)
    assert keeper.retention is None
    assert (await keeper.tick()).leader
    await keeper.retention_finished()
    assert history(database.engine) == before[1]
    # the tick itself may queue outbox rows; nothing is deleted
    after = counts(database.engine)
    assert {k: v for k, v in after.items() if k != "outbox"} == {
        k: v for k, v in before[0].items() if k != "outbox"
    }
    assert after["outbox"] >= before[0]["outbox"]


async def test_a_follower_deletes_nothing(database: Database, registry: Registry) -> None:
    clock = FakeClock()
    seed(database, registry, clock.now())
    # the leader keeps everything; the other process, which would delete, does not lead
    leader = monitor(database, clock, registry, "leader", days=0)
    follower = monitor(database, clock, registry, "follower", days=90)
    assert (await leader.tick()).leader
    before = counts(database.engine), history(database.engine)
    assert not (await follower.tick()).leader
    await follower.retention_finished()
    assert (counts(database.engine), history(database.engine)) == before


async def test_a_leader_that_loses_the_lead_stops_between_batches(
    database: Database, registry: Registry
) -> None:
    clock = FakeClock()
    now = clock.now()
    record_all(
        database.transactions,
        [seen(registry, f"t{n}", now - 100 * DAY, "success") for n in range(5)],
    )
    run = Retention(database.engine, RetentionPolicy(keep=90 * DAY, batch=2))
    batches = iter([True, False])
    report = run.run(now, keep_going=lambda: next(batches))
    assert report.interrupted
    assert report.transactions == 4  # two batches, then it stopped
    assert len(ref_ids(database.engine)) == 1
    # not recorded as a run that finished
    assert run.last_run() is None


def test_retention_days_defaults_to_90(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert MonitorConfig.from_settings(settings).retention_days == 90
    monkeypatch.setenv("RETENTION_DAYS", "0")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert MonitorConfig.from_settings(settings).retention_days == 0


async def test_a_row_a_callback_holds_is_left_without_waiting(
    database: Database, registry: Registry
) -> None:
    """On Postgres a batch takes only the rows nobody holds: a callback's write on an old
    transaction neither waits for retention nor is waited on."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("row locks are Postgres's (SQLite's batches take the write lock briefly)")
    clock = FakeClock()
    now = clock.now()
    record_all(
        database.transactions,
        [seen(registry, f"t{n}", now - 100 * DAY, "success") for n in range(5)],
    )
    run = Retention(database.engine, RetentionPolicy(keep=90 * DAY, batch=2))
    with database.engine.connect() as held:
        held.execute(text("BEGIN"))
        held.execute(
            select(transactions.c.ref_id).where(transactions.c.ref_id == "t3").with_for_update()
        )
        started = time.perf_counter()
        report = run.run(now)
        took = time.perf_counter() - started
        held.rollback()
    assert took < 1.0
    assert report.transactions == 4
    assert ref_ids(database.engine) == {"t3"}
    # the next run deletes it
    assert run.run(now).transactions == 1


def test_operators_see_what_retention_did(
    database_url: str, start_bot: Callable[..., RunningBot], registry: Registry
) -> None:
    """The running bot's leader deletes at its first tick; /metrics and /healthz say so."""
    now = datetime.now(UTC)
    seeding = Database(database_url)
    record_all(
        seeding.transactions,
        [
            seen(registry, "gone", now - 100 * DAY, "success"),
            seen(registry, "kept", now, "success"),
        ],
    )
    seeding.close()
    bot = start_bot(
        database_url=database_url,
        metrics_token=METRICS_TOKEN,
        monitor_enabled=True,
        monitor_interval_seconds=0.05,
    )
    wait_until(lambda: health_details(bot.url)["retention"]["last_run_at"] is not None)
    retention_health = health_details(bot.url)["retention"]
    assert retention_health["days"] == 90
    assert retention_health["last_run_deleted"] == 2  # the transaction and its history row
    metrics = scrape(bot.url)
    assert metrics.value("iak_bot_retention_deleted_rows_total", table="transactions") == 1
    assert metrics.value("iak_bot_retention_deleted_rows_total", table="transaction_events") == 1
    assert metrics.value("iak_bot_retention_runs_total", result="done") == 1
    engine = create_db_engine(database_url)
    try:
        assert ref_ids(engine) == {"kept"}
    finally:
        engine.dispose()
