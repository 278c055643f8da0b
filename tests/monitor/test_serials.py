"""The same serial number delivered by two successful top-ups: one incident per serial
number, through the real routes, the fake Slack and the fake clock, on SQLite and Postgres."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from bot.incidents.kinds.serial import SerialSnapshot
from bot.incidents.kinds.serial import decide as decide_serial
from bot.incidents.model import Incident, IncidentStatus, Member
from tests.support.alerts import Shop, parent_ts, parents, replies, settle, text_of, wait_until
from tests.support.bot import RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.slack import FakeSlack

TOKEN = "01234567890123456789"
# IAK writes a PLN `sn` as token/customer name/segment power; the token may come grouped
GROUPED = "0123-4567-8901-2345-6789/BUDI SANTOSO/R1/000001300/66.2"
PLAIN = f"{TOKEN}/SITI AMINAH/R1/000000900/20.1"
MASKED_TOKEN = "0123••••••••••••6789"


def test_a_pln_token_delivered_twice_opens_one_incident_and_a_third_joins_its_thread(
    monitored: Callable[..., RunningBot],
    clock: FakeClock,
    fake_slack: FakeSlack,
    database_url: str,
) -> None:
    bot = monitored(database_url=database_url)
    shop = Shop(bot)
    shop.callback("pln-a", "1", "00", product="pln20000", sn=GROUPED, customer="14123456789")
    # placeholders and empty serial numbers are no serial number at all
    for n, placeholder in enumerate(["-", "-", "0", "0", "0000000000", "000-000"]):
        shop.callback(f"blank{n}", "1", "00", product="pln20000", sn=placeholder)
    # a failure that names the same token is no delivery
    shop.callback("pln-failed", "2", "07", product="pln20000", sn=PLAIN)
    settle(bot)  # several ticks
    assert parents(fake_slack) == []

    clock.advance(minutes=3)
    shop.callback("pln-b", "1", "00", product="pln50000", sn=PLAIN, customer="14987654321")
    ts = parent_ts(fake_slack)
    parent = parents(fake_slack)[0]
    shown = text_of(parent)
    assert "delivered 2 times" in shown and MASKED_TOKEN in shown
    assert "pln-a" in shown and "pln-b" in shown and "pln-failed" not in shown
    assert "pln20000" in shown and "pln50000" in shown
    assert "14***789" in shown and "14***321" in shown
    assert "WIB" in shown  # when each happened
    assert TOKEN not in str(parent.args) and "14123456789" not in str(parent.args)

    clock.advance(minutes=3)
    shop.callback("pln-c", "1", "00", product="pln20000", sn=TOKEN)
    wait_until(lambda: len(replies(fake_slack, ts)) >= 1)
    again = text_of(replies(fake_slack, ts)[0])
    assert "3 successful top-ups" in again and "pln-c" in again and "pln-a" not in again
    wait_until(
        lambda: any("delivered 3 times" in text_of(c) for c in fake_slack.calls_to("chat.update"))
    )
    settle(bot)
    assert len(parents(fake_slack)) == 1


def test_voucher_serials_compare_whole_and_each_serial_is_its_own_incident(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = monitored()
    shop = Shop(bot)
    # outside PLN the whole serial number counts: the same code with another expiry differs
    shop.callback("v1", "1", "00", product="voucher100", sn="BA4B52862X7P / 2018-12-07")
    shop.callback("v2", "1", "00", product="voucher100", sn="BA4B52862X7P / 2019-01-07")
    shop.callback("g1", "1", "00", product="mlbb86", sn="ABCD-EFGH-IJKL-MNOP")
    shop.callback("g2", "1", "00", product="mlbb86", sn="abcd-efgh-ijkl-mnop ")
    shop.callback("x1", "1", "00", product="xld25000", sn="123456789012")
    shop.callback("x2", "1", "00", product="xld25000", sn="123456789012")
    wait_until(lambda: len(parents(fake_slack)) >= 2)
    settle(bot)
    shown = [text_of(parent) for parent in parents(fake_slack)]
    assert len(shown) == 2
    game = next(text for text in shown if "`g1`" in text)
    assert "`g2`" in game and "ABCD***NOP" in game and "`x1`" not in game
    data = next(text for text in shown if "`x1`" in text)
    assert "`x2`" in data and "123••••••012" in data
    assert all("`v1`" not in text for text in shown)


# --- When a serial-number incident is over (the decision alone, on a fake day) ---------------

OPENED = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def _snapshot(total: int, incident: Incident | None, latest: datetime = OPENED) -> SerialSnapshot:
    members = tuple(
        Member(f"r{n}", "pln20000", "14123456789", OPENED - timedelta(minutes=n))
        for n in range(total)
    )
    return SerialSnapshot(TOKEN, total, members, latest, incident)


def _open(acknowledged_by: str | None = None) -> Incident:
    change = decide_serial(_snapshot(2, None), OPENED)
    assert change is not None and change.incident_id is None
    return Incident(
        id=1,
        kind=change.kind,
        key=change.key,
        status=IncidentStatus.OPEN,
        opened_at=OPENED,
        updated_at=OPENED,
        resolved_at=None,
        channel="C0ALERTS",
        parent_ts="1.1",
        details=change.details,
        acknowledged_by=acknowledged_by,
    )


def test_it_stays_open_until_someone_took_it_on_and_a_quiet_day_passed() -> None:
    later = OPENED + timedelta(hours=25)
    assert decide_serial(_snapshot(2, _open()), later) is None  # nobody acknowledged it
    resolved = decide_serial(_snapshot(2, _open(acknowledged_by="U0OPS")), later)
    assert resolved is not None and resolved.resolve
    quiet_not_yet = OPENED + timedelta(hours=23)
    assert decide_serial(_snapshot(2, _open(acknowledged_by="U0OPS")), quiet_not_yet) is None


def test_it_resolves_when_iak_leaves_one_success_with_the_serial() -> None:
    change = decide_serial(_snapshot(1, _open()), OPENED + timedelta(minutes=5))
    assert change is not None and change.resolve


def test_a_delivery_that_lands_while_the_monitor_reads_the_serial_is_told_in_the_thread(
    monitored: Callable[..., RunningBot],
    clock: FakeClock,
    fake_slack: FakeSlack,
    database_url: str,
) -> None:
    """Postgres lets each statement of a tick see what committed before it: a third
    delivery that commits between two reads of one serial number must still be named."""
    if database_url.startswith("sqlite"):
        pytest.skip("on SQLite a tick holds the write lock: nothing commits in the middle of it")
    bot = monitored(database_url=database_url)
    shop = Shop(bot)
    shop.callback("pln-a", "1", "00", product="pln20000", sn=GROUPED)
    clock.advance(minutes=3)
    shop.callback("pln-b", "1", "00", product="pln20000", sn=PLAIN)
    ts = parent_ts(fake_slack)
    wait_until(lambda: [i.parent_ts for i in bot.bot.services.incidents.open_incidents()] == [ts])

    landed = threading.Event()

    def deliver_while_reading(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # right after the monitor's next read of that serial number's deliveries
        if "max(transactions.final_at)" in statement and not landed.is_set():
            landed.set()
            clock.advance(minutes=3)
            shop.callback("pln-c", "1", "00", product="pln20000", sn=TOKEN)

    engine = bot.bot.services.database.engine
    event.listen(engine, "after_cursor_execute", deliver_while_reading)
    try:
        wait_until(landed.is_set)
        wait_until(lambda: len(replies(fake_slack, ts)) >= 1)
    finally:
        event.remove(engine, "after_cursor_execute", deliver_while_reading)
    again = text_of(replies(fake_slack, ts)[0])
    assert "3 successful top-ups" in again and "pln-c" in again
