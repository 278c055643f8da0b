"""An operator going down without any one code spiking, or delivering far slower than usual:
transactions arrive through the ingest API, the monitor ticks on the fake clock, and what
the fake Slack received is read. Ordinary noise opens nothing."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta

from bot.registry import Registry
from bot.store.db import create_db_engine
from bot.store.transactions import TransactionStore
from tests.support.alerts import (
    Shop,
    edited_to_say,
    parent_ts,
    parents,
    replies,
    settle,
    text_of,
    wait_until,
)
from tests.support.bot import RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.iak import FakeIak, prepaid_product
from tests.support.fakes.slack import FakeSlack
from tests.support.transactions import record_all, seen

PRICE_LIST = [
    prepaid_product("tsel25", "Telkomsel", "25000", 25500),
    prepaid_product("tsel25b", "Telkomsel", "25000", 25200),
    prepaid_product("tsel25c", "Telkomsel", "25000", 24900, status="non active"),
    prepaid_product("tsel25d", "Telkomsel", "25000", 25800),
    prepaid_product("tsel50", "Telkomsel", "50000", 49900),
    prepaid_product("isat25", "Indosat", "25000", 25100),
    prepaid_product("xld25000", "XL", "25000", 24925),
]
# Spikes of single codes are the spike kind's: here no code ever opens one.
NO_SPIKES = 1_000_000


class Traffic:
    """Final answers forwarded by the merchant backend, each with the time the top-up was
    made (`created_at`): when it happened, and so how long it took to reach its outcome."""

    def __init__(self, shop: Shop, clock: FakeClock) -> None:
        self.shop = shop
        self.clock = clock
        self.sent = 0

    def send(
        self, answers: Iterable[tuple[str, str, str]], took: Callable[[], float] = lambda: 10.0
    ) -> None:
        """(product, status, rc) answers, each made `took()` seconds before now."""
        now = self.clock.now()
        batch = []
        for product, status, rc in answers:
            self.sent += 1
            made = now - timedelta(seconds=took())
            batch.append((f"op{self.sent:06d}", product, status, rc, made))
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(self._forward, batch))

    def _forward(self, answer: tuple[str, str, str, str, datetime]) -> None:
        ref_id, product, status, rc, made = answer
        self.shop.forward(ref_id, created_at=made, product_code=product, status=status, rc=rc)


def succeeded(product: str, count: int) -> list[tuple[str, str, str]]:
    return [(product, "1", "00")] * count


def failed(product: str, rc: str, count: int) -> list[tuple[str, str, str]]:
    return [(product, "2", rc)] * count


def _latest(slack: FakeSlack) -> str:
    """The first parent as it shows now (last edited, or as posted)."""
    edits = slack.calls_to("chat.update")
    return text_of(edits[-1] if edits else parents(slack)[0])


def test_an_operator_failing_across_codes_opens_one_incident_then_resolves(
    monitored: Callable[..., RunningBot],
    clock: FakeClock,
    fake_slack: FakeSlack,
    fake_iak: FakeIak,
    database_url: str,
) -> None:
    fake_iak.set_price_list("prepaid", PRICE_LIST)
    bot = monitored(database_url=database_url, spike_min_failures=NO_SPIKES)
    traffic = Traffic(Shop(bot), clock)
    # its usual: 150 top-ups two hours ago, 98 % of them successful
    traffic.send(succeeded("tsel25", 80) + succeeded("tsel50", 67) + failed("tsel25", "07", 3))
    time.sleep(0.2)
    clock.advance(hours=2)
    time.sleep(0.2)
    assert parents(fake_slack) == []
    # now: two products failing with two codes, each below any spike; wrong numbers (14)
    # are the customers' and do not count
    traffic.send(
        succeeded("tsel25", 10)
        + failed("tsel25", "07", 6)
        + succeeded("tsel50", 8)
        + failed("tsel50", "106", 5)
        + failed("tsel25", "14", 5)
        + succeeded("xld25000", 30)
    )
    ts = parent_ts(fake_slack)
    assert "Telkomsel" in text_of(parents(fake_slack)[0])
    # the monitor may have opened it before the last answers arrived: the parent's figures
    # are edited (at most once a minute) to the window's
    wait_until(lambda: "11 of 29" in _latest(fake_slack), clock=clock, timeout=10)
    shown = _latest(fake_slack)
    assert "Telkomsel: 62.1 % success in the last 15 min (usually 98 %)" in shown
    assert "*11* of 29 final top-ups failed" in shown
    assert "tsel25 (6 of 16 failed), tsel50 (5 of 13 failed)" in shown
    assert "07 FAILED (6), 106 PRODUCT IS TEMPORARILY OUT OF SERVICE (5)" in shown
    assert "14 INCORRECT" not in shown
    assert "tsel25b (Rp25.200), tsel25d (Rp25.800)" in shown and "tsel25c" not in shown
    time.sleep(0.2)
    assert len(parents(fake_slack)) == 1  # XL is fine; no spike, no slow incident

    # the failures leave the window and the operator sells again: quiet for a whole window
    clock.advance(minutes=16)
    traffic.send(succeeded("tsel25", 15) + succeeded("tsel50", 15))
    time.sleep(0.2)
    clock.advance(minutes=16)
    wait_until(
        lambda: any(
            "Telkomsel's success rate is back" in text_of(call) for call in replies(fake_slack, ts)
        )
    )
    wait_until(lambda: edited_to_say(fake_slack, "Resolved: Telkomsel's success rate"))


def test_an_operator_delivering_far_slower_than_usual_opens_a_slow_incident(
    monitored: Callable[..., RunningBot],
    clock: FakeClock,
    fake_slack: FakeSlack,
    fake_iak: FakeIak,
    database_url: str,
) -> None:
    fake_iak.set_price_list("prepaid", PRICE_LIST)
    bot = monitored(database_url=database_url, spike_min_failures=NO_SPIKES)
    traffic = Traffic(Shop(bot), clock)
    # usually 10 seconds from the top-up to its outcome
    traffic.send(succeeded("xld25000", 120))
    time.sleep(0.2)
    clock.advance(hours=2)
    time.sleep(0.2)
    # now every top-up takes eight minutes, and all of them succeed
    traffic.send(succeeded("xld25000", 25), took=lambda: 480.0)
    parent_ts(fake_slack)
    wait_until(lambda: "over 25 top-ups" in _latest(fake_slack), clock=clock, timeout=10)
    shown = _latest(fake_slack)
    assert "XL: top-ups take 8 min (usually 12 s)" in shown
    assert "over 25 top-ups in the last 15 min" in shown
    assert "xld25000 (8 min, 25 top-ups)" in shown
    time.sleep(0.2)
    assert len(parents(fake_slack)) == 1  # its success rate is fine

    # eight minutes was a bad spell: quick again for a whole window, it resolves
    clock.advance(minutes=16)
    traffic.send(succeeded("xld25000", 25))
    ts = parent_ts(fake_slack)
    time.sleep(0.2)
    clock.advance(minutes=16)
    wait_until(lambda: any("XL delivers in" in text_of(call) for call in replies(fake_slack, ts)))


def test_a_day_of_ordinary_traffic_with_a_few_failures_an_hour_opens_nothing(
    monitored: Callable[..., RunningBot],
    clock: FakeClock,
    fake_slack: FakeSlack,
    fake_iak: FakeIak,
    database_url: str,
    registry: Registry,
) -> None:
    fake_iak.set_price_list("prepaid", PRICE_LIST)
    # every kind on, at its defaults (spikes included); ticking often, as the test waits
    # for two ticks after each quarter
    bot = monitored(database_url=database_url, spike_min_failures=10, monitor_interval_seconds=0.01)
    assert bot.bot.alerting is not None
    monitor = bot.bot.alerting.monitor
    # A day of answers is 2,688 of them: stored a quarter at a time straight into the
    # database (the other tests here send theirs over HTTP).
    store = TransactionStore(create_db_engine(database_url))
    bot.closers.append(store.engine.dispose)
    rng = random.Random(26)
    # 112 top-ups an hour: Telkomsel's three products enough to be judged in every window
    step = ["tsel25", "tsel50", "tsel25b"] * 8 + ["xld25000", "isat25"] * 2
    codes = ["07", "106", "13", "14", "16"]  # 13, 14, 16: the customer's input
    failures = sent = 0
    for _quarter in range(24 * 4):  # a day, a quarter of an hour at a time
        now = clock.now()
        answers = []
        for product in step:
            sent += 1
            # about four failures an hour, with whatever code
            if rng.random() < 4 / 112:
                failures += 1
                rc = rng.choice(codes)
                answer = seen(registry, f"op{sent:06d}", now, "failed", rc=rc, product_code=product)
            else:
                answer = seen(registry, f"op{sent:06d}", now, "success", product_code=product)
            # each took between 5 s and a minute, as ordinary top-ups do
            made = now - timedelta(seconds=rng.uniform(5, 60))
            answers.append(replace(answer, created_at=made))
        record_all(store, answers)
        ticked = monitor.ticks + 2  # a whole tick judges this quarter as the present
        wait_until(lambda ticked=ticked: monitor.ticks >= ticked)
        clock.advance(minutes=15)
    settle(bot)
    assert failures >= 72  # the noise was there
    assert parents(fake_slack) == []
