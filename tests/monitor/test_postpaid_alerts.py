"""Scenario: the monitor watches postpaid bills forwarded to POST /transactions. Their
codes are postpaid's (06 is INQUIRY ID NOT FOUND there), and a bill pending too long is
asked about through IAK's postpaid check-status."""

from __future__ import annotations

from collections.abc import Callable

from bot.outcomes import Line, Outcome
from tests.support.alerts import Shop, parent_ts, parents, settle, text_of, wait_until
from tests.support.bot import IAK_API_KEY, IAK_USERNAME, RunningBot
from tests.support.fakes.clock import FakeClock
from tests.support.fakes.iak import FakeIak, bill, iak_sign, postpaid
from tests.support.fakes.slack import FakeSlack


def test_a_spike_of_postpaid_06_is_the_postpaid_row(
    monitored: Callable[..., RunningBot], fake_slack: FakeSlack, database_url: str
) -> None:
    # Four to open: the spike opens once all four are in, whenever the monitor ticks.
    bot = monitored(database_url=database_url, spike_min_failures=4)
    shop = Shop(bot)
    for n in range(4):
        shop.bill(f"bill{n}", response_code="06", message="INQUIRY ID NOT FOUND", status=None)
    parent_ts(fake_slack)
    settle(bot)
    (parent,) = parents(fake_slack)
    shown = text_of(parent)
    assert "postpaid 06 INQUIRY ID NOT FOUND" in shown
    assert "4 failures" in shown
    assert "TRANSACTION NOT FOUND" not in shown  # prepaid 06's words


def test_a_long_pending_bill_is_rechecked_at_iaks_postpaid_api_and_settles(
    monitored: Callable[..., RunningBot],
    clock: FakeClock,
    fake_iak: FakeIak,
    database_url: str,
) -> None:
    bot = monitored(database_url=database_url)
    fake_iak.add_bill(bill("bill900", "success"))
    Shop(bot).bill("bill900", status=3, response_code="39", message="PENDING", noref=None)

    wait_until(lambda: bool(fake_iak.calls_for(postpaid("bill900"))), clock=clock, timeout=10)
    (call, *_) = fake_iak.calls_for(postpaid("bill900"))
    assert call.body["commands"] == "checkstatus"
    assert call.body["sign"] == iak_sign(IAK_USERNAME, IAK_API_KEY, "cs")
    assert fake_iak.calls_for("bill900") == []  # never asked as a prepaid top-up

    transactions = bot.bot.services.database.transactions

    def settled() -> bool:
        state = transactions.get("bill900")
        return state is not None and state.outcome is Outcome.SUCCESS

    wait_until(settled, clock=clock, timeout=10)
    state = transactions.get("bill900")
    assert state is not None
    assert (state.line, state.rc, state.sn) == (Line.POSTPAID, "00", "1609626")
