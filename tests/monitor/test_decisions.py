"""The monitor's decisions, pure: thresholds, baseline floor, hysteresis, first occurrences,
pending age-out and resolution, re-check backoff, the deposit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.incidents.config import MonitorConfig
from bot.incidents.kinds.deposit import DepositDetails, DepositReading, spend_per_hour
from bot.incidents.kinds.deposit import decide as decide_deposit
from bot.incidents.kinds.pending import PendingDetails, PendingOutcomes, PendingSnapshot, Settlement
from bot.incidents.kinds.pending import decide as decide_pending
from bot.incidents.kinds.spike import RcActivity, SpikeDetails, opening_threshold, sparkline_counts
from bot.incidents.kinds.spike import decide as decide_spike
from bot.incidents.model import Details as IncidentDetails
from bot.incidents.model import Incident, IncidentKind, IncidentStatus, ThreadReply
from bot.incidents.rechecks import next_check
from bot.outcomes import Outcome
from bot.store.transactions import PendingTransaction
from tests.support.alerts import CONFIG, spike_details

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def incident(kind: IncidentKind, key: str, details: IncidentDetails, opened: datetime) -> Incident:
    return Incident(1, kind, key, IncidentStatus.OPEN, opened, opened, None, "C1", "1.1", details)


def actions(change: Any) -> list[str]:
    """What the change asks Slack for: each reply by its kind, else the action."""
    return [
        intent.reply.kind if isinstance(intent, ThreadReply) else intent.action.value
        for intent in change.intents
    ]


def broadcast(change: Any, index: int = 0) -> bool:
    intent = change.intents[index]
    assert isinstance(intent, ThreadReply)
    return intent.broadcast


# --- spikes -------------------------------------------------------------------------------


def test_threshold_is_min_failures_for_a_quiet_rc_thanks_to_the_floor() -> None:
    quiet = RcActivity("07", window_count=0, baseline_count=0)
    # baseline 0 would make any failure "infinitely" up; the floor (1 per window) and
    # SPIKE_MIN_FAILURES keep it sane
    assert opening_threshold(quiet, CONFIG, stops_sales=False) == 10


def test_threshold_scales_the_24h_baseline_to_the_window() -> None:
    busy = RcActivity("07", window_count=0, baseline_count=2880)  # 10 per 5 minutes
    assert opening_threshold(busy, CONFIG, stops_sales=False) == pytest.approx(30)


@pytest.mark.parametrize(("count", "opens"), [(9, False), (10, True), (29, False), (30, True)])
def test_spike_opens_exactly_at_the_threshold(count: int, opens: bool) -> None:
    baseline = 0 if count < 20 else 2880
    change = decide_spike(RcActivity("07", count, baseline), None, NOW, CONFIG, stops_sales=False)
    assert (change is not None) is opens
    if change:
        assert change.incident_id is None and actions(change) == ["post_parent"]


def test_a_code_that_stops_sales_opens_on_its_first_occurrence() -> None:
    change = decide_spike(RcActivity("17", 1, 0), None, NOW, CONFIG, stops_sales=True)
    assert change is not None
    assert isinstance(change.details, SpikeDetails) and change.details.stops_sales
    assert decide_spike(RcActivity("17", 0, 0), None, NOW, CONFIG, stops_sales=True) is None


def open_spike(count: int = 12, total: int = 12, **extra: Any) -> Incident:
    details = spike_details("07", NOW - timedelta(minutes=1), count=count, total=total, **extra)
    return incident(IncidentKind.SPIKE, "07", details, NOW - timedelta(minutes=10))


def quiet_since(change: Any) -> datetime | None:
    assert isinstance(change.details, SpikeDetails)
    return change.details.quiet_since


def test_hysteresis_needs_a_whole_quiet_window() -> None:
    spike = open_spike()
    # below the threshold (10) but not well below (5): still open, not quiet
    change = decide_spike(
        RcActivity("07", 6, 0, total_since_open=20), spike, NOW, CONFIG, stops_sales=False
    )
    assert change is not None and not change.resolve and quiet_since(change) is None
    # well below: quiet starts, but no resolution yet
    change = decide_spike(
        RcActivity("07", 4, 0, total_since_open=20), spike, NOW, CONFIG, stops_sales=False
    )
    assert change is not None and not change.resolve
    assert quiet_since(change) == NOW
    quiet = open_spike(quiet_since=NOW)
    later = NOW + timedelta(seconds=299)
    change = decide_spike(
        RcActivity("07", 2, 0, total_since_open=20), quiet, later, CONFIG, stops_sales=False
    )
    assert change is None or not change.resolve
    done = NOW + timedelta(seconds=300)
    change = decide_spike(
        RcActivity("07", 2, 0, total_since_open=20), quiet, done, CONFIG, stops_sales=False
    )
    assert change is not None and change.resolve
    assert actions(change) == ["resolved", "update_parent"]
    assert broadcast(change)


def test_a_busy_tick_cancels_the_quiet_period() -> None:
    quiet = open_spike(quiet_since=NOW - timedelta(minutes=4))
    change = decide_spike(
        RcActivity("07", 9, 0, total_since_open=30), quiet, NOW, CONFIG, stops_sales=False
    )
    assert change is not None and quiet_since(change) is None and not change.resolve


def test_updates_when_the_count_doubles_or_every_five_minutes() -> None:
    spike = open_spike(total=12)
    doubled = decide_spike(
        RcActivity("07", 20, 0, total_since_open=24), spike, NOW, CONFIG, stops_sales=False
    )
    assert doubled is not None
    assert actions(doubled) == ["spike_update", "update_parent"]
    assert broadcast(doubled)
    # a little more, a minute after the last report: no thread update
    small = decide_spike(
        RcActivity("07", 13, 0, total_since_open=14), spike, NOW, CONFIG, stops_sales=False
    )
    assert small is None or "spike_update" not in actions(small)
    # five minutes after the last report: an update, not broadcast
    later = NOW + timedelta(minutes=4, seconds=1)
    update = decide_spike(
        RcActivity("07", 13, 0, total_since_open=14), spike, later, CONFIG, stops_sales=False
    )
    assert update is not None and actions(update)[0] == "spike_update"
    assert not broadcast(update)


def test_a_stops_sales_code_resolves_after_a_window_without_it() -> None:
    spike = incident(
        IncidentKind.SPIKE,
        "102",
        spike_details("102", NOW - timedelta(minutes=1), count=1, stops_sales=True),
        NOW - timedelta(minutes=2),
    )
    change = decide_spike(
        RcActivity("102", 1, 0, total_since_open=1), spike, NOW, CONFIG, stops_sales=True
    )
    assert change is None or not change.resolve
    change = decide_spike(
        RcActivity("102", 0, 0, total_since_open=1), spike, NOW, CONFIG, stops_sales=True
    )
    assert change is not None and quiet_since(change) == NOW


def test_sparkline_buckets_the_last_hour() -> None:
    times = [NOW - timedelta(minutes=m) for m in (1, 2, 7, 59, 61)]
    counts = sparkline_counts(times, NOW)
    assert len(counts) == 12
    assert counts[-1] == 2 and counts[-2] == 1 and counts[0] == 1 and sum(counts) == 4


# --- pending --------------------------------------------------------------------------------


def pending(
    ref_id: str, minutes_ago: int, outcome: Outcome = Outcome.PENDING, rc: str = "39"
) -> PendingTransaction:
    return PendingTransaction(
        ref_id=ref_id,
        outcome=outcome,
        rc=rc,
        product_code="xld25000",
        customer_id="0817777215",
        started_at=NOW - timedelta(minutes=minutes_ago),
    )


def pending_details(change: Any) -> PendingDetails:
    assert isinstance(change.details, PendingDetails)
    return change.details


def test_aged_out_transactions_open_one_incident() -> None:
    aged = tuple(pending(f"o{n}", 20 + n) for n in range(3))
    decision = decide_pending(PendingSnapshot(None, aged, (), 0), NOW)
    assert decision.change is not None and decision.change.incident_id is None
    assert actions(decision.change) == ["post_parent"]
    assert set(decision.join) == {"o0", "o1", "o2"}
    assert pending_details(decision.change).waiting == 3


def test_nothing_aged_nothing_happens() -> None:
    assert decide_pending(PendingSnapshot(None, (), (), 0), NOW).change is None


def test_a_thousand_aged_out_at_once_is_one_parent_listing_twenty() -> None:
    aged = tuple(pending(f"o{n}", 20) for n in range(1000))
    decision = decide_pending(PendingSnapshot(None, aged, (), 0), NOW)
    assert decision.change is not None
    assert len(decision.change.intents) == 1
    assert len(pending_details(decision.change).members) == 20
    assert pending_details(decision.change).waiting == 1000


def test_outcomes_reply_and_the_last_one_resolves() -> None:
    details = PendingDetails(total=2, waiting=2)
    open_ = incident(IncidentKind.PENDING, "pending", details, NOW - timedelta(minutes=5))
    one_done = decide_pending(
        PendingSnapshot(open_, (), (pending("o1", 30, Outcome.FAILED, "07"),), waiting=1), NOW
    )
    assert one_done.change is not None and not one_done.change.resolve
    assert actions(one_done.change) == ["pending_outcomes", "update_parent"]
    assert one_done.announce == ("o1",)
    assert pending_details(one_done.change).failed == 1
    last = decide_pending(
        PendingSnapshot(open_, (), (pending("o2", 30, Outcome.SUCCESS, "00"),), waiting=0), NOW
    )
    assert last.change is not None and last.change.resolve
    assert actions(last.change) == ["pending_outcomes", "resolved", "update_parent"]


def test_late_joiners_reply_in_the_thread() -> None:
    open_ = incident(
        IncidentKind.PENDING,
        "pending",
        PendingDetails(total=1, waiting=1),
        NOW - timedelta(minutes=5),
    )
    decision = decide_pending(PendingSnapshot(open_, (pending("o9", 16),), (), waiting=1), NOW)
    assert decision.change is not None
    assert actions(decision.change) == ["pending_joined", "update_parent"]
    assert pending_details(decision.change).total == 2
    assert pending_details(decision.change).waiting == 2


def test_recheck_backoff_doubles_caps_and_stops_after_a_day() -> None:
    seen = NOW - timedelta(minutes=1)
    waits = [next_check(seen, n, NOW, CONFIG) - NOW for n in range(7)]  # type: ignore[operator]
    assert waits[:5] == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480)]
    assert waits[5] == waits[6] == timedelta(minutes=15)
    short = MonitorConfig(**{**CONFIG.__dict__, "age_out": timedelta(minutes=2)})
    assert next_check(seen, 6, NOW, short) == NOW + timedelta(minutes=2)
    assert next_check(NOW - timedelta(hours=24), 3, NOW, CONFIG) is None


# --- deposit ----------------------------------------------------------------------------------


def test_low_balance_opens_with_rate_and_time_left() -> None:
    change = decide_deposit(DepositReading(900_000, NOW, 100_000.0), None, NOW, 1_000_000)
    assert change is not None and actions(change) == ["post_parent"]
    assert isinstance(change.details, DepositDetails) and change.details.hours_left == 9
    assert decide_deposit(DepositReading(1_000_000, NOW, None), None, NOW, 1_000_000) is None
    assert decide_deposit(DepositReading(5, NOW, None), None, NOW, None) is None


def test_deposit_resolves_only_above_the_margin() -> None:
    low = incident(
        IncidentKind.DEPOSIT,
        "deposit",
        DepositDetails(
            balance=900_000,
            threshold=1_000_000,
            observed_at=NOW,
            lowest=900_000,
            reported_balance=900_000,
            reported_at=NOW,
        ),
        NOW - timedelta(hours=1),
    )
    just_above = decide_deposit(DepositReading(1_050_000, NOW, None), low, NOW, 1_000_000)
    assert just_above is None or not just_above.resolve
    well_above = decide_deposit(DepositReading(1_200_000, NOW, None), low, NOW, 1_000_000)
    assert well_above is not None and well_above.resolve


def test_spend_rate_counts_only_decreases() -> None:
    readings = [
        (NOW - timedelta(minutes=60), 1_000_000),
        (NOW - timedelta(minutes=30), 900_000),
        (NOW - timedelta(minutes=20), 2_000_000),
        (NOW, 1_900_000),
    ]  # a top-up in between
    assert spend_per_hour(readings) == pytest.approx(200_000)
    assert spend_per_hour(readings[:1]) is None


def test_a_member_given_up_after_24_hours_is_told_and_stops_counting() -> None:
    details = PendingDetails(total=1, waiting=1)
    open_ = incident(IncidentKind.PENDING, "pending", details, NOW - timedelta(hours=24))
    stale = PendingTransaction(
        ref_id="old1",
        outcome=Outcome.PENDING,
        rc="39",
        product_code="pln20",
        customer_id="0817777215",
        started_at=NOW - timedelta(hours=24),
        checks_stopped_at=NOW,
    )
    decision = decide_pending(PendingSnapshot(open_, (), (stale,), waiting=0), NOW)
    assert decision.change is not None and decision.change.resolve
    said = decision.change.intents[0]
    assert isinstance(said, ThreadReply) and isinstance(said.reply, PendingOutcomes)
    assert said.reply.items[0].outcome is Settlement.GAVE_UP
    assert pending_details(decision.change).gave_up == 1
