"""Every card in Indonesian: the longest ones still pass every Block Kit limit, and what the
bot writes itself is Indonesian while IAK's own words stay as IAK wrote them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.clock import wib_moment
from bot.i18n import language
from bot.iak.client import CallLimits, IakClient, IakEndpoint
from bot.incidents.kinds.conflict import Claim, ConflictDetails, ConflictSettled
from bot.incidents.kinds.deposit import DepositDetails, DepositUpdate
from bot.incidents.kinds.pending import (
    PendingDetails,
    PendingJoined,
    PendingOutcomes,
    Settled,
    Settlement,
)
from bot.incidents.kinds.spike import SpikeUpdate
from bot.incidents.model import (
    Acknowledged,
    Incident,
    IncidentKind,
    IncidentStatus,
    Member,
    Rechecked,
    Reply,
    Resolved,
)
from bot.incidents.model import Details as IncidentDetails
from bot.outcomes import Outcome, Source
from bot.registry import Line, Registry
from bot.slack.alerts.render import parent_message, reply_message
from bot.slack.blocks import limits
from bot.slack.blocks.balance import balance_card
from bot.slack.blocks.bills import postpaid_status_card
from bot.slack.blocks.cards import codes_list, help_message, remediation_card, search_results
from bot.slack.blocks.durations import duration
from bot.slack.blocks.home import HomeSnapshot, home_view
from bot.slack.blocks.reports import pending_card, stats_card
from bot.slack.blocks.status import status_card
from bot.slack.blocks.text import number, rupiah
from bot.slack.listeners.commands import USAGE
from bot.store.reports import PendingPage, TimeBuckets, WindowStats
from bot.store.transactions import PendingTransaction
from tests.support.alerts import spike_details
from tests.support.fakes.iak import bill, refusal, transaction
from tests.support.messages import assert_valid, visible_text
from tests.support.metrics import SAMPLE_HEALTH

NOW = datetime(2026, 8, 28, 7, 5, tzinfo=UTC)  # 14:05 WIB
ENDPOINT = IakEndpoint("production", "https://prepaid.iak.id")
POSTPAID_ENDPOINT = IakEndpoint("production", "https://mobilepulsa.net", Line.POSTPAID)


@pytest.fixture(autouse=True)
def indonesian() -> Iterator[None]:
    with language("id"):
        yield


def test_numbers_money_durations_and_dates_are_written_the_indonesian_way() -> None:
    assert rupiah(25_000) == "Rp25.000"
    assert number(1_234_567) == "1.234.567"
    assert duration(timedelta(hours=3, minutes=12)) == "3 jam 12 mnt"
    assert duration(timedelta(seconds=45)) == "45 dtk"
    assert duration(timedelta(days=2, hours=1)) == "2 hari 1 jam"
    assert wib_moment(NOW) == "28 Agu 14:05 WIB"
    with language("en"):
        assert rupiah(25_000) == "Rp25.000"
        assert number(1_234_567) == "1,234,567"
        assert duration(timedelta(hours=3, minutes=12)) == "3 h 12 min"
        assert wib_moment(NOW) == "28 Aug 14:05 WIB"


def test_every_remediation_card_is_indonesian_with_iak_words_untouched(
    registry: Registry,
) -> None:
    for code in registry:
        card = remediation_card(code, homonym=registry.homonym(code))
        assert_valid(card)
        shown = visible_text(card)
        assert code.solution in shown  # IAK's own words, as IAK wrote them
        assert "Solusi dari IAK" in shown and "Yang harus dilakukan" in shown
        assert code.advice not in shown  # our advice, translated
        assert code.translated_advice in shown


def test_lists_help_and_search_fit(registry: Registry) -> None:
    for line in Line:
        assert_valid(codes_list(registry, line))
    help_card = help_message(USAGE, note="Kode yang mana?")
    assert_valid(help_card)
    assert "Perintah" in visible_text(help_card)
    matches = registry.lookup("deposit")
    assert_valid(search_results(matches))  # type: ignore[arg-type]


def test_the_largest_pending_page_and_stats_fit(registry: Registry) -> None:
    shown = tuple(
        PendingTransaction(
            ref_id=f"{n:03d}" + "&<>" * 32 + "x",
            product_code="&" * 100,
            customer_id="081234567890",
            outcome=Outcome.PENDING,
            rc="39",
            started_at=NOW - timedelta(hours=n),
        )
        for n in range(15)
    )
    page = pending_card(PendingPage(shown, total=999_999, start=500_000), now=NOW)
    assert_valid(page)
    assert "999.999 pending" in visible_text(page)
    rcs: list[str | None] = [code.code for code in registry.response_codes()] + ["999", None]
    stats = WindowStats(
        TimeBuckets.ending(NOW, timedelta(days=7), 28),
        dict.fromkeys(Outcome, 10**6),
        {rc: [(n * 7 + i) % 13 for i in range(28)] for n, rc in enumerate(rcs)},
    )
    card = stats_card(stats, registry, label="7d")
    assert_valid(card)
    assert "Transaksi IAK, 7 hari terakhir" in visible_text(card)


def test_a_full_home_tab_fits(registry: Registry) -> None:
    digits = [code.code for code in registry if code.code.isdigit()]
    incidents = [
        incident(n, IncidentKind.SPIKE, rc, spike_details(rc, NOW, total=10_000 + n), open_=True)
        for n, rc in enumerate(digits * 10)
    ]
    snapshot = HomeSnapshot(
        now=NOW,
        incidents=incidents,
        pending_by_age=[("under 15 min", 4_000), ("over 24 h", 100)],
        failures_24h={rc: 1000 + n for n, rc in enumerate(digits)},
        balance=123_456_789,
        balance_at=NOW - timedelta(minutes=3),
        low_balance_threshold=200_000_000,
        health=SAMPLE_HEALTH,
    )
    view = home_view(snapshot, registry)
    assert_valid(view, surface="home")
    assert len(view["blocks"]) < limits.MAX_VIEW_BLOCKS
    text = str(view)
    assert "Insiden terbuka" in text and "di bawah batas" in text and "di bawah 15 mnt" in text


def incident(
    n: int, kind: IncidentKind, key: str, details: IncidentDetails, *, open_: bool
) -> Incident:
    return Incident(
        n,
        kind,
        key,
        IncidentStatus.OPEN if open_ else IncidentStatus.RESOLVED,
        NOW - timedelta(hours=3, minutes=12),
        NOW,
        None if open_ else NOW,
        "C0ALERTS",
        f"1700000000.{n:06d}",
        details,
        acknowledged_by="U0LEAD" if n % 2 else None,
        muted_until=NOW + timedelta(hours=1) if n % 3 == 0 else None,
        muted_by="U0LEAD" if n % 3 == 0 else None,
    )


MEMBERS = tuple(
    Member(f"order{n:03d}" + "x" * 90, "&" * 40, "081234567890", NOW - timedelta(minutes=20 + n))
    for n in range(20)
)
INCIDENTS: list[tuple[IncidentKind, str, IncidentDetails]] = [
    (IncidentKind.PENDING, "pending", PendingDetails(300, 280, 10, 9, 1, MEMBERS)),
    (
        IncidentKind.SPIKE,
        "17",
        spike_details(
            "17",
            NOW,
            count=1200,
            total=45_000,
            stops_sales=True,
            products={f"product{n:03d}" + "&" * 40: n for n in range(40)},
            sparkline=tuple(range(12)),
        ),
    ),
    (IncidentKind.SPIKE, "14", spike_details("14", NOW, count=30, expected=2.5)),
    (
        IncidentKind.DEPOSIT,
        "deposit",
        DepositDetails(850_000, 1_000_000, NOW, 800_000, 850_000, NOW, 125_000.0, 6.8),
    ),
    (
        IncidentKind.CONFLICT,
        "order001",
        ConflictDetails(
            "order001",
            "xld25000",
            "081234567890",
            Outcome.SUCCESS,
            NOW,
            tuple(
                Claim(source, outcome, "14", NOW)
                for source in Source
                for outcome in (Outcome.SUCCESS, Outcome.FAILED)
            ),
        ),
    ),
]


@pytest.mark.parametrize("open_", [True, False], ids=["open", "resolved"])
@pytest.mark.parametrize(("kind", "key", "details"), INCIDENTS, ids=lambda v: str(v)[:12])
def test_every_alert_parent_fits_in_indonesian(
    registry: Registry, kind: IncidentKind, key: str, details: IncidentDetails, open_: bool
) -> None:
    message = parent_message(incident(3, kind, key, details, open_=open_), NOW, registry, mask=True)
    assert_valid(message)
    shown = visible_text(message)
    assert "Dibuka 28 Agu 10:53 WIB" in shown
    if open_:
        assert "Mute 24 jam" in json.dumps(message["blocks"])
    else:
        assert "Selesai" in shown or "Tuntas" in shown


REPLIES: list[tuple[IncidentKind, Reply]] = [
    (IncidentKind.PENDING, PendingJoined(MEMBERS, 500, 780)),
    (
        IncidentKind.PENDING,
        PendingOutcomes(
            tuple(
                Settled(f"order{n:03d}" + "x" * 90, outcome, "14", "&" * 40, "081234567890")
                for n, outcome in enumerate(list(Settlement) * 7)
            ),
            400,
        ),
    ),
    (IncidentKind.SPIKE, SpikeUpdate(count=300, expected=1.5, total=4000, previous_total=3000)),
    (IncidentKind.DEPOSIT, DepositUpdate(500_000, 850_000, 125_000.0, 4.0)),
    (IncidentKind.PENDING, Resolved(11_520, total=300)),
    (IncidentKind.SPIKE, Resolved(11_520, total=45_000)),
    (IncidentKind.DEPOSIT, Resolved(11_520, balance=5_000_000)),
    (IncidentKind.SPIKE, Acknowledged("U0LEAD")),
    (IncidentKind.PENDING, Rechecked("U0LEAD", 25, 24)),
    (IncidentKind.CONFLICT, ConflictSettled(Outcome.FAILED, "14", Outcome.SUCCESS)),
]


@pytest.mark.parametrize(("kind", "reply"), REPLIES, ids=lambda v: type(v).__name__)
def test_every_thread_reply_fits_in_indonesian(
    registry: Registry, kind: IncidentKind, reply: Reply
) -> None:
    details = next(d for k, _key, d in INCIDENTS if k is kind)
    message = reply_message(
        incident(1, kind, "17", details, open_=True), reply, registry, mask=True
    )
    assert_valid(message)
    assert message["text"].strip()


def test_resolved_replies_say_how_long_in_indonesian(registry: Registry) -> None:
    details = next(d for k, _key, d in INCIDENTS if k is IncidentKind.SPIKE)
    said = reply_message(
        incident(1, IncidentKind.SPIKE, "17", details, open_=False),
        Resolved(11_520, total=45_000),
        registry,
        mask=True,
    )
    assert said["text"] == "Selesai setelah 3 jam 12 mnt: rc 17 kembali normal; total 45.000 gagal."


async def check(registry: Registry, data: dict[str, Any] | None, what: str) -> Any:
    """What the real client makes of IAK answering `data` (None: IAK unreachable)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if data is None:
            raise httpx.ConnectError("Connection refused", request=request)
        return httpx.Response(200, json={"data": data})

    async with IakClient(
        username="u",
        api_key="k",
        endpoint=ENDPOINT,
        postpaid_endpoint=POSTPAID_ENDPOINT,
        registry=registry,
        limits=CallLimits(deadline=0.2, backoff=0.001),
        transport=httpx.MockTransport(handler),
    ) as client:
        if what == "balance":
            return await client.check_balance()
        if what == "postpaid":
            return await client.check_postpaid_status("bill001")
        return await client.check_status("order001")


PREPAID_ANSWERS = {
    "success": transaction("order001", "success", message="SUCCESS " + "&<>" * 60),
    "failed": transaction("order001", "failed", rc="14"),
    "not found": refusal("06", "TRANSACTION NOT FOUND"),
    "wrong sign": refusal("204", "WRONG SIGNATURE"),
    "ip refused": refusal("102", "INVALID IP ADDRESS"),
    "unknown rc": refusal("777", "SOMETHING NEW"),
    "unreachable": None,
}


@pytest.mark.parametrize("data", PREPAID_ANSWERS.values(), ids=PREPAID_ANSWERS.keys())
async def test_status_cards_fit_in_indonesian(
    registry: Registry, data: dict[str, Any] | None
) -> None:
    card = status_card(await check(registry, data, "prepaid"), registry, history=None)
    assert_valid(card)
    assert "Transaksi order001" in visible_text(card)
    assert "Ditanyakan ke IAK production" in visible_text(card)


async def test_postpaid_and_balance_cards_fit_in_indonesian(registry: Registry) -> None:
    paid = postpaid_status_card(await check(registry, bill("bill001"), "postpaid"), registry)
    assert_valid(paid)
    assert "Tagihan pascabayar bill001" in visible_text(paid) and "Lunas" in visible_text(paid)
    low = balance_card(
        await check(registry, {"balance": 50_000, "rc": "00"}, "balance"),
        registry,
        low_threshold=1_000_000,
    )
    assert_valid(low)
    assert "Deposit menipis: Rp50.000, di bawah batas Rp1.000.000" in visible_text(low)
