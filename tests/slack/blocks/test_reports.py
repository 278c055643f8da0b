"""The pending list and the stats card: valid Block Kit with any data, and what ops read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.outcomes import Outcome
from bot.registry import Registry
from bot.slack.blocks.reports import (
    MAX_STATS_CODES,
    PENDING_NEXT_ACTION,
    PENDING_PREVIOUS_ACTION,
    pending_card,
    short_advice,
    stats_card,
)
from bot.slack.blocks.text import Message
from bot.store.reports import (
    PendingCursor,
    PendingPage,
    PendingTransaction,
    TimeBuckets,
    WindowStats,
)
from tests.support.messages import all_text, assert_valid

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
CUSTOMER = "0817777215"


def pending(n: int, *, ref_id: str | None = None, product: str = "xld25000") -> PendingTransaction:
    return PendingTransaction(
        ref_id=ref_id or f"order{n:04d}",
        outcome=Outcome.UNKNOWN if n % 5 == 4 else Outcome.PENDING,
        rc=None if n % 7 == 6 else "39",
        product_code=product,
        customer_id=CUSTOMER,
        started_at=NOW - timedelta(hours=3, minutes=12) + timedelta(minutes=n),
    )


def buttons(message: Message) -> dict[str, str]:
    return {
        element["action_id"]: element["value"]
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    }


def test_nothing_pending_says_so() -> None:
    message = pending_card(PendingPage((), total=0, start=0), now=NOW)
    assert_valid(message)
    assert "Nothing pending" in message["text"]
    assert buttons(message) == {}


def test_a_page_shows_age_ref_id_product_masked_customer_and_rc() -> None:
    page = PendingPage(tuple(pending(n) for n in range(3)), total=3, start=0)
    message = pending_card(page, now=NOW)
    assert_valid(message)
    text = all_text(message)
    assert "*3 pending*" in text and "all shown" in text
    first_line = next(line for line in text.split("\\n") if "order0000" in line)
    assert "*3 h 12 min*" in first_line
    assert "`order0000`" in first_line
    assert "xld25000" in first_line
    assert "`08***215`" in first_line
    assert "rc `39`" in first_line
    assert CUSTOMER not in json.dumps(message)
    assert "order0000 has waited 3 h 12 min" in message["text"]
    assert buttons(message) == {}


def test_page_buttons_carry_cursors_to_the_neighbouring_pages() -> None:
    shown = tuple(pending(n) for n in range(15, 30))
    message = pending_card(PendingPage(shown, total=4213, start=15), now=NOW)
    assert_valid(message)
    assert "*4,213 pending*" in all_text(message)
    assert "showing 16–30" in all_text(message)
    values = buttons(message)
    assert PendingCursor.decode(values[PENDING_PREVIOUS_ACTION]) == PendingCursor.at(shown[0])
    assert PendingCursor.decode(values[PENDING_NEXT_ACTION]) == PendingCursor.at(shown[-1])
    first_page = pending_card(PendingPage(shown, total=4213, start=0), now=NOW)
    assert set(buttons(first_page)) == {PENDING_NEXT_ACTION}
    last_page = pending_card(PendingPage(shown, total=30, start=15), now=NOW)
    assert set(buttons(last_page)) == {PENDING_PREVIOUS_ACTION}


def test_the_largest_possible_page_fits() -> None:
    # Longest ref_ids and product codes, made of the characters Slack escapes.
    shown = tuple(
        pending(n, ref_id=f"{n:03d}" + "&<>" * 32 + "x", product="&" * 100) for n in range(15)
    )
    message = pending_card(PendingPage(shown, total=999_999, start=500_000), now=NOW)
    assert_valid(message)
    shown_text = json.dumps([block for block in message["blocks"] if block["type"] == "section"])
    assert "<>" not in shown_text  # escaped, never markup (button values carry it raw)
    ref_id_with_backtick = pending(1, ref_id="odd`ref")
    odd = pending_card(PendingPage((ref_id_with_backtick,), total=1, start=0), now=NOW)
    assert_valid(odd)
    assert "odd`ref" in all_text(odd) and "`odd`ref`" not in all_text(odd)


def window_stats(failures: dict[str | None, list[int]], **outcomes: int) -> WindowStats:
    window = TimeBuckets.ending(NOW, timedelta(hours=24), 24)
    counts = dict.fromkeys(Outcome, 0)
    counts.update({Outcome(name): count for name, count in outcomes.items()})
    return WindowStats(window, counts, failures)


def test_stats_for_an_empty_window(registry: Registry) -> None:
    message = stats_card(window_stats({}), registry, label="24 h")
    assert_valid(message)
    text = all_text(message)
    assert "No transactions in the last 24 h" in text
    assert "No failures in the last 24 h" in text


def test_stats_show_totals_top_codes_share_sparkline_and_remedy(registry: Registry) -> None:
    deposit = [0] * 20 + [2, 10, 30, 10]
    failures: dict[str | None, list[int]] = {"17": deposit, "07": [1] + [0] * 23}
    message = stats_card(
        window_stats(failures, success=1204, failed=53, pending=12, unknown=3),
        registry,
        label="24 h",
    )
    assert_valid(message)
    text = all_text(message)
    assert "*1,272* transactions in the last 24 h" in text
    assert ":white_check_mark: Success\\n*1,204* (95 %)" in text
    assert "*Top failure codes* · 53 failures in the last 24 h" in text
    assert "*17 · INSUFFICIENT DEPOSIT* (prepaid) :rotating_light: — *52* (98 %" in text
    assert "`▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▂▄█▄`" in text
    assert "_Top up the deposit_: Sales priced above the deposit left fail" in text
    assert "*07 · FAILED* (prepaid) — *1* (1.9 % of failures)" in text
    assert "_Retry now_" in text
    assert "24 buckets of 1 h" in text
    assert text.index("17 · INSUFFICIENT") < text.index("07 · FAILED")
    assert message["text"].startswith("Last 24 h: 1,272 transactions (1,204 success, 53 failed")
    assert "Top failure: rc 17 (52)" in message["text"]


def test_stats_with_every_code_failing_fit_and_name_the_rest(registry: Registry) -> None:
    rcs: list[str | None] = [code.code for code in registry.response_codes()]
    rcs += ["999", None]
    failures = {rc: [(n * 7 + i) % 13 for i in range(28)] for n, rc in enumerate(rcs)}
    stats = WindowStats(
        TimeBuckets.ending(NOW, timedelta(days=7), 28),
        dict.fromkeys(Outcome, 10**6),
        failures,
    )
    message = stats_card(stats, registry, label="7 d")
    assert_valid(message)
    text = all_text(message)
    assert text.count(" of failures)") == MAX_STATS_CODES
    others = len(rcs) - MAX_STATS_CODES
    assert f"+{others} other codes" in text
    assert "28 buckets of 6 h" in text


def test_unknown_and_missing_rcs_are_explained(registry: Registry) -> None:
    message = stats_card(
        window_stats({"999": [1] + [0] * 23, None: [0] * 23 + [2]}, failed=3),
        registry,
        label="24 h",
    )
    assert_valid(message)
    text = all_text(message)
    assert "`999`* · not in IAK's published table" in text
    assert "_Contact IAK_" in text
    assert "*No rc* · IAK said failed without a response code" in text


def test_short_advice_is_the_first_sentence() -> None:
    assert short_advice("Still processing: do not refund or resend. Wait for IAK.") == (
        "Still processing: do not refund or resend."
    )
    long = "word " * 100
    assert len(short_advice(long)) <= 160
