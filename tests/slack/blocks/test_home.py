"""The Home tab stays a valid view under 100 blocks, whatever the amount of data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.incidents.model import Incident, IncidentKind, IncidentStatus
from bot.registry import Registry
from bot.slack.blocks import limits
from bot.slack.blocks.home import HomeSnapshot, home_refused, home_view
from tests.support.alerts import spike_details
from tests.support.messages import assert_valid
from tests.support.metrics import SAMPLE_HEALTH

NOW = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)


def test_empty_home_is_valid_and_says_all_is_quiet(registry: Registry) -> None:
    view = home_view(HomeSnapshot(now=NOW), registry)
    assert_valid(view, surface="home")
    text = str(view)
    assert "All quiet" in text and "No balance reported yet" in text


def test_large_home_stays_within_limits(registry: Registry) -> None:
    incidents = [
        Incident(
            n,
            IncidentKind.SPIKE,
            rc,
            IncidentStatus.OPEN,
            NOW - timedelta(minutes=n),
            NOW,
            None,
            "C0ALERTS",
            f"1700000000.{n:06d}",
            spike_details(rc, NOW, total=10_000 + n),
            acknowledged_by="U0LEAD" if n % 2 else None,
            muted_until=NOW + timedelta(hours=1) if n % 3 == 0 else None,
        )
        for n, rc in enumerate([code.code for code in registry if code.code.isdigit()] * 10)
    ]
    snapshot = HomeSnapshot(
        now=NOW,
        incidents=incidents,
        pending_by_age=[
            ("under 15 min", 4_000),
            ("15 min to 1 h", 3_000),
            ("1 to 6 h", 2_000),
            ("6 to 24 h", 900),
            ("over 24 h", 100),
        ],
        failures_24h={
            code.code: 1000 + n for n, code in enumerate(registry) if code.code.isdigit()
        },
        balance=123_456_789,
        balance_at=NOW - timedelta(minutes=3),
        low_balance_threshold=200_000_000,
        health=SAMPLE_HEALTH,
    )
    view = home_view(snapshot, registry)
    assert_valid(view, surface="home")
    assert len(view["blocks"]) < limits.MAX_VIEW_BLOCKS
    text = str(view)
    assert "+" in text and "more in the ops channel" in text
    assert "https://slack.com/archives/C0ALERTS/p1700000000000000" in text
    assert "below the threshold" in text and "not_in_channel" in text


def test_refused_home_shows_no_data() -> None:
    view = home_refused()
    assert_valid(view, surface="home")
    assert "ops team" in str(view)
