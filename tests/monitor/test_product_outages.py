"""A product out of service (rc 106) or unknown (rc 20) is one incident per product, offering
the active products of the same operator and nominal from IAK's price list: through the
real callback route, the fake Slack, the fake IAK's price list and the fake clock."""

from __future__ import annotations

from collections.abc import Callable

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

PRICE_LIST = [
    prepaid_product("tsel25", "Telkomsel", "25000", 25500),
    prepaid_product("tsel25b", "Telkomsel", "25000", 25200),
    prepaid_product("tsel25c", "Telkomsel", "25000", 24900, status="non active"),
    prepaid_product("tsel25d", "Telkomsel", "25000", 25800),
    prepaid_product("tsel50", "Telkomsel", "50000", 49900),
    prepaid_product("isat25", "Indosat", "25000", 25100),
    prepaid_product("xld25000", "XL", "25000", 24925),
]


def test_out_of_service_is_one_incident_per_product_with_its_alternatives(
    monitored: Callable[..., RunningBot],
    clock: FakeClock,
    fake_slack: FakeSlack,
    fake_iak: FakeIak,
    database_url: str,
) -> None:
    fake_iak.set_price_list("prepaid", PRICE_LIST)
    bot = monitored(database_url=database_url, spike_min_failures=3)
    shop = Shop(bot)
    for n in range(4):
        shop.callback(f"t{n}", "2", "106", product="tsel25")
    ts = parent_ts(fake_slack)
    # the first tick found no price list cached: the parent says so, and IAK is asked
    # beside the tick; the parent is then edited to offer what else sells
    wait_until(lambda: edited_to_say(fake_slack, "Sell instead"), clock=clock)
    parent = text_of(parents(fake_slack)[0])
    assert "tsel25 cannot be sold" in parent and "106 PRODUCT IS TEMPORARILY" in parent
    offered = next(
        text_of(c) for c in fake_slack.calls_to("chat.update") if "Sell instead" in text_of(c)
    )
    assert "Telkomsel 25000" in offered
    # active ones of the same operator and nominal, cheapest first; not itself
    assert "tsel25b (Rp25.200), tsel25d (Rp25.800)" in offered
    assert "tsel25c" not in offered and "tsel50" not in offered and "isat25" not in offered

    # another product failing with rc 20 is its own incident; no incident for the rc as such
    for n in range(3):
        shop.callback(f"x{n}", "2", "20", product="xld25000")
    wait_until(lambda: len(parents(fake_slack)) >= 2)
    settle(bot)
    shown = [text_of(call) for call in parents(fake_slack)]
    assert len(shown) == 2
    assert "xld25000 cannot be sold" in shown[1] and "20 CODE NOT FOUND" in shown[1]
    assert "No other active XL 25000 product" in shown[1]
    assert not any("failures in 5 min" in text and ":chart" in text for text in shown)

    # quiet for a whole window: the product's incident resolves in its own thread
    clock.advance(minutes=6)
    settle(bot)
    clock.advance(minutes=6)
    wait_until(
        lambda: any("tsel25 is selling again" in text_of(c) for c in replies(fake_slack, ts))
    )
