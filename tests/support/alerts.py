"""Alert scenarios: what the shop sends, and reading what the fake Slack received."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import event

from bot.clock import Clock
from bot.incidents.config import MonitorConfig
from bot.incidents.kinds.spike import SpikeDetails
from bot.incidents.repository import IncidentRepository
from bot.incidents.tick import Monitor
from bot.incidents.watch import TickReport
from bot.registry import Registry
from bot.store.database import Database
from tests.support.bot import MONITOR_INGEST_TOKEN, RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.slack import Call, FakeSlack
from tests.support.intake import iak_sign, postpaid_answer
from tests.support.messages import visible_text

CUSTOMER = "0817777215"
# The monitor's settings as the decisions' tests use them.
CONFIG = MonitorConfig(
    interval=timedelta(seconds=30),
    age_out=timedelta(seconds=900),
    spike_window=timedelta(seconds=300),
    spike_min_failures=10,
    spike_factor=3,
    low_balance_threshold=1_000_000,
)


def monitor_on(
    database: Database,
    registry: Registry,
    clock: Clock,
    config: MonitorConfig = CONFIG,
    *,
    channel: str = "C0OPS",
    **options: Any,
) -> Monitor:
    """A monitor on the test's database and clock, built as the bot builds one; without IAK
    unless `iak=` is given (`holder=`, `metrics=` as `Monitor` takes them)."""
    return Monitor(
        database=database,
        incidents=IncidentRepository(database.engine),
        registry=registry,
        clock=clock,
        config=config,
        channel=channel,
        **{"iak": None, **options},
    )


@contextmanager
def statements_in_ticks(monitor: Monitor) -> Iterator[list[tuple[str, Any]]]:
    """The statements (SQL, and the values bound to its names before the driver's types)
    the monitor's ticks send inside their transaction, while in the block: what holds the
    tick's lock, and what a tick costs."""
    sent: list[tuple[str, Any]] = []
    in_tick = False
    decide_and_write = monitor._decide_and_write

    def watched(now: datetime) -> TickReport:
        nonlocal in_tick
        in_tick = True
        try:
            return decide_and_write(now)
        finally:
            in_tick = False

    def statement(
        _conn: object, _cursor: object, sql: str, _params: object, context: Any, _many: bool
    ) -> None:
        if in_tick:
            bound = getattr(context, "compiled_parameters", None)
            sent.append((sql, bound[0] if bound else {}))

    engine = monitor.engine
    monitor._decide_and_write = watched  # type: ignore[method-assign]
    event.listen(engine, "before_cursor_execute", statement)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        monitor._decide_and_write = decide_and_write  # type: ignore[method-assign]


def spike_details(rc: str, at: datetime, count: int = 12, **extra: Any) -> SpikeDetails:
    """The figures of a spike of `rc` that opened at `at` with `count` failures."""
    values: dict[str, Any] = {
        "rc": rc,
        "count": count,
        "expected": 1.0,
        "threshold": 10.0,
        "stops_sales": False,
        "window_seconds": 300.0,
        "total": count,
        "peak": count,
        "reported_total": count,
        "reported_at": at,
        "refreshed_at": at,
        **extra,
    }
    return SpikeDetails(**values)


class Shop:
    """Sends what IAK and the merchant backend would send."""

    def __init__(self, running: RunningBot) -> None:
        self.bot = running
        self.url = running.url
        self.http = httpx.Client(timeout=10)
        running.closers.append(self.http.close)

    def pending(
        self, ref_id: str, product: str = "xld25000", created_at: datetime | None = None
    ) -> None:
        self.forward(ref_id, created_at=created_at, product_code=product, status=0, rc="39")

    def forward(self, ref_id: str, created_at: datetime | None = None, **fields: object) -> None:
        """The merchant backend forwards IAK's answer (status and rc as given), with the
        top-up's own time when `created_at` is given."""
        data = {
            "ref_id": ref_id,
            "product_code": "xld25000",
            "customer_id": CUSTOMER,
            "price": 25000,
            **fields,
        }
        body: dict[str, object] = {"data": data}
        if created_at is not None:
            body["created_at"] = created_at.isoformat()
        answer = self.http.post(
            self.url + "/transactions",
            json=body,
            headers={"Authorization": f"Bearer {MONITOR_INGEST_TOKEN}"},
        )
        assert answer.status_code == 200, answer.text

    def bill(self, ref_id: str, **fields: object) -> None:
        """The merchant backend forwards IAK's answer to a postpaid payment (made now,
        unless `datetime` says when)."""
        answer = self.http.post(
            self.url + "/transactions",
            json=postpaid_answer(ref_id, **{"datetime": None, **fields}),
            headers={"Authorization": f"Bearer {MONITOR_INGEST_TOKEN}"},
        )
        assert answer.status_code == 200, answer.text

    def callback(
        self,
        ref_id: str,
        status: str,
        rc: str,
        balance: int | None = None,
        product: str = "xld25000",
        sn: str | None = None,
        customer: str = CUSTOMER,
    ) -> None:
        data = {
            "ref_id": ref_id,
            "status": status,
            "rc": rc,
            "product_code": product,
            "customer_id": customer,
            "price": "25000",
            "sign": iak_sign(ref_id),
        }
        if balance is not None:
            data["balance"] = str(balance)
        if sn is not None:
            data["sn"] = sn
        answer = self.http.post(self.url + "/iak/callback", json={"data": data})
        assert answer.status_code == 200, answer.text

    def raw_callback(self, body: bytes, *, forwarded_for: str | None = None) -> httpx.Response:
        """POST anything to the callback route, as from `forwarded_for` when given (the
        test server's loopback peer is a trusted proxy)."""
        headers = {"Content-Type": "application/json"}
        if forwarded_for is not None:
            headers["X-Forwarded-For"] = forwarded_for
        return self.http.post(self.url + "/iak/callback", content=body, headers=headers)


def posts(slack: FakeSlack) -> list[Call]:
    return slack.calls_to("chat.postMessage")


def parents(slack: FakeSlack) -> list[Call]:
    return [call for call in posts(slack) if not call.args.get("thread_ts")]


def replies(slack: FakeSlack, parent_ts: str) -> list[Call]:
    return [call for call in posts(slack) if call.args.get("thread_ts") == parent_ts]


def wait_until(
    condition: Callable[[], bool],
    timeout: float = 5.0,
    *,
    clock: FakeClock | None = None,
    step: timedelta = timedelta(seconds=1),
) -> None:
    """Poll `condition` until it holds; with `clock`, time moves on by `step` every poll
    (so waits on the bot's clock, such as the notifier's back-off, come to an end)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        if clock is not None:
            clock.advance(seconds=step.total_seconds())
        time.sleep(0.02)


def settle(bot: RunningBot, ticks: int = 3, timeout: float = 10.0) -> None:
    """Wait until the bot's monitor has finished `ticks` more rounds and its notifier a whole
    delivery pass after them: whatever those rounds decided has reached the fake Slack.
    What a test waits on before it asserts that nothing (more) was posted."""
    alerting = bot.bot.alerting
    assert alerting is not None, "the bot has no monitor (OPS_CHANNEL unset?)"
    refusals = bot.bot.refusals
    if refusals is not None:  # refused callbacks are written a burst at a time
        wait_until(lambda: not refusals.waiting, timeout)
    target = alerting.monitor.ticks + ticks
    wait_until(lambda: alerting.monitor.ticks >= target, timeout)
    if not alerting.monitor.is_leader:
        return  # a follower's notifier sends nothing
    # the pass under way may have started before the last round committed: wait for the next
    passes = alerting.notifier.passes + 2
    wait_until(lambda: alerting.notifier.passes >= passes, timeout)


def delivered_parents(slack: FakeSlack) -> list[Call]:
    return [call for call in parents(slack) if call.answer.get("ok")]


def parent_ts(slack: FakeSlack, index: int = 0) -> str:
    """The ts Slack gave the index-th parent that was delivered (waits for it)."""
    wait_until(lambda: len(delivered_parents(slack)) > index)
    return str(delivered_parents(slack)[index].answer["ts"])


def text_of(call: Call) -> str:
    return visible_text(call.args)


OPS = "C0ALERTS"


def edited_to_say(slack: FakeSlack, words: str) -> bool:
    """Whether a message was edited (chat.update) to say `words`."""
    return any(words in text_of(call) for call in slack.calls_to("chat.update"))


def click(
    bot: RunningBot,
    action_id: str,
    value: str,
    *,
    user: str = "U0OPS0001",
    key: str = "click",
    select: bool = False,
) -> httpx.Response:
    """Click a button (or pick an option of a select) on an alert, as Slack sends it."""
    extra: dict[str, Any] = {}
    if select:
        extra = {
            "type": "static_select",
            "selected_option": {"value": value, "text": {"type": "plain_text", "text": "x"}},
        }
    return bot.slack.action(
        action_id,
        "" if select else value,
        user_id=user,
        channel_id=OPS,
        response_key=key,
        container={
            "type": "message",
            "message_ts": "1.1",
            "channel_id": OPS,
            "is_ephemeral": False,
        },
        extra=extra,
    )


def buttons_of(call: Call) -> dict[str, dict[str, Any]]:
    """The action elements of an alert message, by action_id."""
    found = {}
    for block in call.args.get("blocks", []):
        if block.get("type") == "actions":
            for element in block["elements"]:
                found[element["action_id"]] = element
    return found


def broadcast(call: Call) -> bool:
    """Whether a thread reply was also shown in the channel."""
    return call.args.get("reply_broadcast") in (True, "true", "1", "True")
