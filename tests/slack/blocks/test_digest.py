"""The digest's card and chart on their own: within Slack's limits with the most it can hold,
text from outside shown as text, and a chart that is a picture."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.incidents.kinds.digest import CodeCount, DigestDetails, ProductFailures
from bot.outcomes import Line
from bot.registry import Registry
from bot.slack.blocks.digest import digest_message
from bot.slack.chart import hourly_chart
from tests.support.messages import assert_valid, controls, markup_texts, visible_text

HOSTILE = "<!channel> <@U0BOSS> &amp;"


def busy_day(**changes: object) -> DigestDetails:
    values: dict[str, object] = {
        "day": date(2026, 12, 3),
        "gathered_at": datetime(2026, 12, 4, 1, 0, tzinfo=UTC),
        "outcomes": {"success": 120_000, "failed": 30_000, "pending": 500, "unknown": 7},
        "week_success_rate": 0.91,
        "failure_codes": tuple(
            CodeCount(rc, 1000 - n)
            for n, rc in enumerate(
                [
                    "14",
                    "17",
                    "13",
                    None,
                    HOSTILE,
                    "06",
                    "39",
                    "999",
                ]
            )
        ),
        "other_failures": 22_000,
        "worst_products": tuple(
            ProductFailures(HOSTILE + "x" * 90 + str(n), 1000, 900 - n) for n in range(5)
        ),
        "min_product_volume": 10,
        "pending_from_day": 500,
        "pending_now": 1200,
        "oldest_pending_at": datetime(2026, 12, 1, tzinfo=UTC),
        "spent": 3_000_000,
        "balance": 1_000_000,
        "balance_at": datetime(2026, 12, 3, 16, 0, tzinfo=UTC),
        "incidents_opened": 40,
        "incidents_resolved": 38,
        "acknowledged": 30,
        "median_ack_seconds": 312.0,
        "hourly_transactions": tuple(range(1000, 1024)),
        "hourly_failures": tuple(range(24)),
    }
    values.update(changes)
    return DigestDetails(**values)  # type: ignore[arg-type]


def test_a_busy_day_fits_and_outside_text_stays_text(registry: Registry) -> None:
    message = digest_message(busy_day(), registry)
    assert_valid(message)
    for text in markup_texts(message):
        assert controls(text) == []  # no mention, no link: nothing from outside pings
    shown = visible_text(dict(message))
    assert (
        "*150,507* transactions · success rate *80.0%* (7-day average 91.0%, ▼ 11.0 pts)" in shown
    )
    assert "*rc <!channel> <@U0BOSS> &amp;* — *996*" in shown
    assert "_+22,000 failures of other codes_" in shown
    assert "Spent Rp3.000.000 on that day's successful sales" in shown
    assert "lasts about 8 h at that rate" in shown


def test_postpaid_codes_are_read_from_the_postpaid_table(registry: Registry) -> None:
    """Postpaid 06 (inquiry id not found) is not prepaid 06 (transaction not found)."""
    day = busy_day(failure_codes=(CodeCount("postpaid 06", 4), CodeCount("06", 3)))
    shown = visible_text(dict(digest_message(day, registry)))
    postpaid = registry.rc("06", line=Line.POSTPAID)
    prepaid = registry.rc("06")
    assert postpaid is not None and prepaid is not None
    assert f"*{postpaid.title}*" in shown and f"*{prepaid.title}*" in shown
    assert "not in IAK's table" not in shown


def test_a_quiet_day_says_so(registry: Registry) -> None:
    quiet = busy_day(
        outcomes={},
        week_success_rate=None,
        failure_codes=(),
        other_failures=0,
        worst_products=(),
        pending_from_day=0,
        pending_now=0,
        oldest_pending_at=None,
        spent=0,
        balance=None,
        balance_at=None,
        incidents_opened=0,
        incidents_resolved=0,
        acknowledged=0,
        median_ack_seconds=None,
        hourly_transactions=(0,) * 24,
        hourly_failures=(0,) * 24,
    )
    message = digest_message(quiet, registry)
    assert_valid(message)
    shown = visible_text(dict(message))
    for words in (
        "No transactions that day.",
        "No failures that day.",
        "Nothing pending now.",
        "No balance reported by IAK yet.",
        "0 opened · 0 resolved",
    ):
        assert words in shown


def test_the_chart_is_a_png_of_the_day() -> None:
    picture = hourly_chart(busy_day(), "Transactions and failures per hour (WIB), Thu 3 Dec 2026")
    assert picture.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(picture[16:20], "big")
    height = int.from_bytes(picture[20:24], "big")
    assert (width, height) == (1000, 400)


def test_an_indonesian_digest_writes_days_numbers_and_shares_the_indonesian_way(
    registry: Registry,
) -> None:
    from bot.i18n import language

    with language("id"):
        shown = visible_text(dict(digest_message(busy_day(), registry)))
    assert "Kam 3 Des 2026" in shown  # not "Thu 3 Dec 2026"
    assert "*150.507* transaksi" in shown  # not 150,507
    assert "*80,0%*" in shown and "91,0%" in shown  # not 80.0 %
    assert "▼ 11,0 poin" in shown
    assert "_+22.000 " in shown
    assert "4 Des 08.00 WIB" in shown or "4 Des 08:00 WIB" in shown  # gathered, with its zone
    for english in ("Thu", "Dec", "150,507", "80.0", " %"):
        assert english not in shown, english
