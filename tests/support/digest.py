"""A day of business for the digest's tests: transactions, balances and incidents recorded at
chosen WIB times, and the figures a person should read for it; monitors and notifiers that
run as separate processes would, on one database and one fake clock."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine

from bot.clock import WIB
from bot.incidents.model import IncidentChange, IncidentKind
from bot.incidents.repository import IncidentRepository
from bot.incidents.tick import Monitor
from bot.registry import Registry
from bot.slack.alerts.notifier import Notifier
from bot.store.database import Database
from bot.store.transactions import TransactionStore
from tests.support.alerts import CONFIG, monitor_on, spike_details
from tests.support.bot import BOT_TOKEN
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.slack import Call, FakeSlack
from tests.support.messages import visible_text
from tests.support.transactions import record_all, seen

CHANNEL = "C0ALERTS"
DAY = date(2026, 12, 3)  # the day the digest is about (WIB)
DIGEST_AT = time(8, 0)
DIGEST_HEADER = "Daily digest · Thu 3 Dec 2026"


def wib(day: date, hour: int, minute: int = 0) -> datetime:
    """That WIB moment, in UTC as the store keeps it."""
    return datetime.combine(day, time(hour, minute), WIB).astimezone(UTC)


# The morning after, half an hour before the digest is due.
BEFORE_DIGEST = wib(DAY + timedelta(days=1), 7, 30)


def seed_day(engine: Engine, registry: Registry) -> None:
    """35 transactions on DAY (21 succeeded, 12 failed, 2 pending), a quiet week before it,
    one transaction after midnight, a balance, and three incidents (two acknowledged)."""
    observations = []
    for n in range(20):  # 10:00 WIB: xld25000 (2 more pending later), 5 failed with rc 14
        outcome = "failed" if n < 5 else "success"
        extra = {"rc": "14"} if n < 5 else {}
        observations.append(seen(registry, f"x{n}", wib(DAY, 10, n), outcome, **extra))
    for n in range(10):  # 13:00 WIB: tsel10, 4 of 10 failed with rc 17
        outcome = "failed" if n < 4 else "success"
        extra = {"rc": "17"} if n < 4 else {}
        observations.append(
            seen(registry, f"t{n}", wib(DAY, 13, n), outcome, product_code="tsel10", **extra)
        )
    for n in range(3):  # 13:00 WIB: ism5, all failed, but too few to rank a product
        observations.append(
            seen(registry, f"i{n}", wib(DAY, 13, 30 + n), "failed", product_code="ism5", rc="14")
        )
    for n in range(2):  # 22:00 WIB: still pending
        observations.append(seen(registry, f"p{n}", wib(DAY, 22, n)))
    for n in range(10):  # the week before: all succeeded
        observations.append(seen(registry, f"w{n}", wib(DAY - timedelta(days=3), 9, n), "success"))
    # after midnight: the next day's, counted nowhere in this digest
    observations.append(seen(registry, "next", wib(DAY + timedelta(days=1), 0, 30), "failed"))
    # the balance IAK reported last
    observations.append(
        seen(registry, "bal", wib(DAY, 23, 50), "success", balance=2_100_000, product_code="b")
    )
    record_all(TransactionStore(engine), observations)

    incidents = IncidentRepository(engine)
    opened = (wib(DAY, 10, 30), wib(DAY, 13, 0), wib(DAY, 20, 0))
    ids = []
    for n, at in enumerate(opened):
        details = spike_details(f"9{n}", at)
        with incidents.writing() as connection:
            change = IncidentChange(IncidentKind.SPIKE, f"9{n}", None, details)
            ids.append(incidents.apply_change(connection, change, at, CHANNEL))
    incidents.acknowledge(ids[0], "U0OPS", wib(DAY, 10, 34))
    incidents.acknowledge(ids[1], "U0OPS", wib(DAY, 13, 10))
    with incidents.writing() as connection:
        change = IncidentChange(
            IncidentKind.SPIKE, "90", ids[0], spike_details("90", opened[0]), resolve=True
        )
        incidents.apply_change(connection, change, wib(DAY, 11, 0), CHANNEL)


# What a person reads in the digest of the seeded day ("bal" is one more success).
SEEDED_FIGURES = (
    DIGEST_HEADER,
    "*36* transactions · success rate *64.7%* (7-day average 100.0%, ▼ 35.3 pts)",
    "Success\n*22*",
    "Failed\n*12*",
    "Pending\n*2*",
    "*Top failure codes* · 12 failures",
    "*14 · INCORRECT DESTINATION NUMBER* — *8* · _Fix the input_",
    "*17 · INSUFFICIENT DEPOSIT* :rotating_light: — *4* · _Top up the deposit_",
    "*Worst products* (at least 10 transactions)",
    "• `tsel10` — 4 of 10 failed (40.0%)\n• `xld25000` — 5 of 22 failed (22.7%)",
    "2 of that day's transactions are still not final; 2 pending in all",
    "Spent Rp550.000 on that day's successful sales",
    "balance Rp2.100.000 (reported 3 Dec 23:50 WIB)",
    "lasts about 3 d 19 h at that rate",
    "3 opened · 1 resolved · median time to acknowledge 7 min (2 of 3 acknowledged)",
)


@dataclass
class Process:
    """What one bot process runs for alerts: a monitor holding (or wanting) the lease, and
    a notifier that delivers only while it holds it."""

    monitor: Monitor
    notifier: Notifier

    async def run_once(self) -> None:
        """One tick, the reads it started beside it, then one delivery pass (what the
        process does every interval)."""
        await self.monitor.tick()
        await self.monitor.beside_finished()
        await self.notifier.deliver()


def process(
    database: Database, registry: Registry, clock: FakeClock, slack: FakeSlack, name: str
) -> Process:
    """A process of its own (its own holder name and Slack client) on the shared database."""
    config = replace(CONFIG, digest_time=DIGEST_AT)
    monitor = monitor_on(database, registry, clock, config, channel=CHANNEL, holder=name)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url, retry_handlers=[], timeout=5)
    notifier = Notifier(
        monitor.incidents,
        client,
        registry,
        clock,
        may_send=lambda now: monitor.holds_lease(now, timedelta(seconds=1)),
        pace_seconds=0,
    )
    return Process(monitor, notifier)


def digests(slack: FakeSlack) -> list[Call]:
    """The digests posted to the channel (not thread replies, not alerts)."""
    return [
        call
        for call in slack.calls_to("chat.postMessage")
        if not call.args.get("thread_ts") and DIGEST_HEADER in visible_text(call.args)
    ]
