"""Operator health decided on its own: figures in, an incident change out (no database)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bot.iak.products import Product
from bot.incidents.finals import DURATION_EDGES, FinalCounts, Tally, product_tallies
from bot.incidents.kinds.operator import (
    Measure,
    OperatorActivity,
    OperatorDetails,
    customer_codes,
    decide,
    incident_key,
    offer_for,
    operator_activity,
)
from bot.incidents.kinds.product import Alternative
from bot.incidents.model import (
    Incident,
    IncidentChange,
    IncidentKind,
    IncidentStatus,
    PostParent,
    Resolved,
    ThreadReply,
    UpdateParent,
)
from bot.registry import Line, Registry
from tests.support.alerts import CONFIG

NOW = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
WINDOW = CONFIG.success_rate_window
FAST = DURATION_EDGES.index(15)  # 10 to 15 s to a final outcome
CUSTOMERS = customer_codes(Registry.load())


def counts(*rows: tuple[str, str, str, int, int]) -> FinalCounts:
    """(product, outcome, rc, bucket, count) rows as the SQL gives them."""
    return {(product, outcome, rc, bucket): n for product, outcome, rc, bucket, n in rows}


def activity(
    window: FinalCounts, usual: FinalCounts, operators: dict[str, str] | None = None
) -> OperatorActivity:
    """The one operator the rows name (its products mapped by `operators`)."""
    names = operators or {}
    found = operator_activity(
        window, product_tallies(usual, CUSTOMERS), lambda code: names.get(code, code), CUSTOMERS
    )
    assert len(found) == 1
    return next(iter(found.values()))


def week(product: str = "tsel25", final: int = 1000, failed: int = 20) -> FinalCounts:
    """A usual of `final` top-ups of which `failed` failed (rc 07), all fast."""
    return counts(
        (product, "success", "00", FAST, final - failed), (product, "failed", "07", FAST, failed)
    )


def window(
    succeeded: int, failed: int, product: str = "tsel25", rc: str = "07", bucket: int = FAST
) -> FinalCounts:
    return counts(
        (product, "success", "00", bucket, succeeded), (product, "failed", rc, bucket, failed)
    )


def opened(change: IncidentChange | None, at: datetime = NOW) -> Incident:
    assert change is not None and change.incident_id is None
    return Incident(
        id=1,
        kind=IncidentKind.OPERATOR,
        key=change.key,
        status=IncidentStatus.OPEN,
        opened_at=at,
        updated_at=at,
        resolved_at=None,
        channel="C0ALERTS",
        parent_ts="1.1",
        details=change.details,
    )


def carried(incident: Incident, change: IncidentChange | None) -> Incident:
    """The incident as the repository stores it after `change`."""
    assert change is not None
    return dataclasses.replace(incident, details=change.details)


def test_a_drop_of_the_configured_points_opens_one_incident_naming_the_operator() -> None:
    # usually 98 %; now 41 of 50 (82 %): 16 points below
    change = decide(activity(window(41, 9), week()), None, NOW, CONFIG, Measure.RATE)
    assert change is not None
    assert change.key == "tsel25" and change.intents == (PostParent(),)
    d = change.details
    assert isinstance(d, OperatorDetails)
    assert (d.final, d.failed, d.usual_rate, d.usual_final) == (50, 9, 0.98, 1000)
    assert d.rate == pytest.approx(0.82)
    assert d.codes == {"07": 9}
    assert [p.code for p in d.products] == ["tsel25"]


def test_a_smaller_drop_or_too_few_transactions_open_nothing() -> None:
    # 42 of 50 (84 %): 14 points below the usual 98 %
    assert decide(activity(window(42, 8), week()), None, NOW, CONFIG, Measure.RATE) is None
    # every one of 19 failed, but fewer than SUCCESS_RATE_MIN_TRANSACTIONS are final
    assert decide(activity(window(0, 19), week()), None, NOW, CONFIG, Measure.RATE) is None
    assert decide(activity(window(0, 20), week()), None, NOW, CONFIG, Measure.RATE) is not None


def test_without_a_hundred_final_in_the_usual_it_is_judged_against_95_percent() -> None:
    flawless = week(final=99, failed=0)
    # 80 %: 15 points below 95 %, though 20 below the 100 % of its thin history
    change = decide(activity(window(40, 10), flawless), None, NOW, CONFIG, Measure.RATE)
    assert change is not None
    assert isinstance(change.details, OperatorDetails)
    assert change.details.usual_rate == 0.95 and change.details.usual_is_default
    assert decide(activity(window(41, 9), flawless), None, NOW, CONFIG, Measure.RATE) is None


def test_the_customers_own_failures_do_not_count_against_the_operator() -> None:
    # 30 wrong numbers (14) and a blocked one (13): the customer's input, not the operator
    wrong = counts(
        ("tsel25", "success", "00", FAST, 25),
        ("tsel25", "failed", "14", FAST, 30),
        ("tsel25", "failed", "13", FAST, 1),
    )
    found = activity(wrong, week())
    assert (found.window.final, found.window.failed) == (25, 0)
    assert decide(found, None, NOW, CONFIG, Measure.RATE) is None
    # the same count of operator failures (rc 07) is an incident
    assert decide(activity(window(25, 31), week()), None, NOW, CONFIG, Measure.RATE) is not None


def test_products_are_judged_together_as_their_operator() -> None:
    telkomsel = {"tsel25": "Telkomsel", "tsel50": "Telkomsel", "tsel100": "Telkomsel"}
    # each product fails 6 or 7 of 17: below any one product's minimum, together 38 %
    spread = counts(
        *(
            row
            for code in telkomsel
            for row in ((code, "success", "00", FAST, 11), (code, "failed", "07", FAST, 6))
        ),
        ("tsel100", "failed", "106", FAST, 1),
    )
    found = activity(spread, week("tsel50"), telkomsel)
    assert found.operator == "Telkomsel"
    change = decide(found, None, NOW, CONFIG, Measure.RATE)
    assert change is not None and change.key == "Telkomsel"
    d = change.details
    assert isinstance(d, OperatorDetails)
    assert (d.final, d.failed) == (52, 19)
    # worst first, and every code counted
    assert [p.code for p in d.products] == ["tsel100", "tsel25", "tsel50"]
    assert d.codes == {"07": 18, "106": 1}


def test_it_resolves_only_once_back_within_half_the_drop_for_a_whole_window() -> None:
    usual = week()
    incident = opened(decide(activity(window(30, 20), usual), None, NOW, CONFIG, Measure.RATE))
    # 88 %: better, but still 10 points below (more than half of 15): stays, not quiet
    later = NOW + timedelta(minutes=2)
    change = decide(activity(window(44, 6), usual), incident, later, CONFIG, Measure.RATE)
    assert change is not None and not change.resolve
    assert isinstance(change.details, OperatorDetails) and change.details.quiet_since is None
    incident = carried(incident, change)
    # 92 %: within half the drop: quiet from now, resolved a whole window later
    quiet_at = NOW + timedelta(minutes=4)
    change = decide(activity(window(46, 4), usual), incident, quiet_at, CONFIG, Measure.RATE)
    assert change is not None and not change.resolve
    assert isinstance(change.details, OperatorDetails)
    assert change.details.quiet_since == quiet_at
    assert change.details.lowest_rate == pytest.approx(0.6)
    incident = carried(incident, change)
    almost = quiet_at + WINDOW - timedelta(seconds=1)
    change = decide(activity(window(46, 4), usual), incident, almost, CONFIG, Measure.RATE)
    assert change is None or not change.resolve
    done = quiet_at + WINDOW
    change = decide(activity(window(46, 4), usual), incident, done, CONFIG, Measure.RATE)
    assert change is not None and change.resolve
    said = [i.reply for i in change.intents if isinstance(i, ThreadReply)]
    assert said == [Resolved(duration_seconds=(done - NOW).total_seconds())]
    assert UpdateParent() in change.intents


def test_a_relapse_while_quiet_keeps_it_open() -> None:
    usual = week()
    incident = opened(decide(activity(window(30, 20), usual), None, NOW, CONFIG, Measure.RATE))
    quiet = decide(activity(window(50, 0), usual), incident, NOW, CONFIG, Measure.RATE)
    incident = carried(incident, quiet)
    relapse = decide(
        activity(window(30, 20), usual), incident, NOW + WINDOW / 2, CONFIG, Measure.RATE
    )
    assert relapse is not None and not relapse.resolve
    assert isinstance(relapse.details, OperatorDetails) and relapse.details.quiet_since is None
    incident = carried(incident, relapse)
    later = decide(
        activity(window(30, 20), usual), incident, NOW + WINDOW * 2, CONFIG, Measure.RATE
    )
    assert later is None or not later.resolve


def test_the_parent_is_edited_at_most_once_a_minute() -> None:
    usual = week()
    incident = opened(decide(activity(window(30, 20), usual), None, NOW, CONFIG, Measure.RATE))
    soon = decide(
        activity(window(28, 22), usual), incident, NOW + timedelta(seconds=20), CONFIG, Measure.RATE
    )
    assert soon is not None and soon.intents == ()
    # the stored figures stay the ones the parent shows until it is edited
    assert isinstance(soon.details, OperatorDetails) and soon.details.failed == 20
    assert soon.details.lowest_rate == pytest.approx(0.56)
    incident = carried(incident, soon)
    minute = decide(
        activity(window(27, 23), usual), incident, NOW + timedelta(minutes=1), CONFIG, Measure.RATE
    )
    assert minute is not None and minute.intents == (UpdateParent(),)


def test_a_median_time_to_final_five_times_the_usual_opens_a_slow_incident() -> None:
    usual = week("xld25000", failed=0)  # usually 10 to 15 s
    eight_minutes = DURATION_EDGES.index(600)  # 7 to 10 min
    slow = activity(window(30, 0, "xld25000", bucket=eight_minutes), usual)
    assert decide(slow, None, NOW, CONFIG, Measure.RATE) is None
    change = decide(slow, None, NOW, CONFIG, Measure.SLOW)
    assert change is not None
    assert change.key == "slow:xld25000" == incident_key("xld25000", Measure.SLOW)
    d = change.details
    assert isinstance(d, OperatorDetails)
    assert d.measure is Measure.SLOW
    assert d.usual_median_seconds == pytest.approx(12.5)
    assert d.median_seconds is not None and 420 <= d.median_seconds <= 600
    # four times the usual (45 to 60 s) is not enough
    four = activity(window(30, 0, "xld25000", bucket=DURATION_EDGES.index(60)), usual)
    assert decide(four, None, NOW, CONFIG, Measure.SLOW) is None


def test_slow_needs_history_and_is_five_times_the_usual_however_short() -> None:
    instant = counts(("xld25000", "success", "00", 0, 1000))  # usually under 5 s (2.5 s)
    # 5 to 10 s (7.5 s): under five times 2.5 s
    quick = activity(window(30, 0, "xld25000", bucket=DURATION_EDGES.index(10)), instant)
    assert decide(quick, None, NOW, CONFIG, Measure.SLOW) is None
    # 15 to 20 s: over five times 2.5 s (SLOW_DELIVERY_FACTOR; the contract sets no floor)
    slower = activity(window(30, 0, "xld25000", bucket=DURATION_EDGES.index(20)), instant)
    assert decide(slower, None, NOW, CONFIG, Measure.SLOW) is not None
    # no usual to compare with: never slow
    thin = activity(
        window(30, 0, "xld25000", bucket=DURATION_EDGES.index(600)), week("xld25000", 99, 0)
    )
    assert decide(thin, None, NOW, CONFIG, Measure.SLOW) is None


def test_the_median_is_interpolated_within_its_bucket() -> None:
    tally = Tally()
    tally.add("success", 0, 1)  # under 5 s
    tally.add("success", 1, 2)  # 5 to 10 s
    tally.add("failed", DURATION_EDGES.index(600), 1)
    assert tally.final == 4 and tally.failed == 1 and tally.rate == 0.75
    # the 2nd of 4 is halfway into the 5 to 10 s bucket
    assert tally.median_seconds() == pytest.approx(7.5)
    assert Tally().median_seconds() is None


def test_alternatives_are_the_operators_other_active_products_of_the_same_nominal() -> None:
    products = tuple(
        Product(line=Line.PREPAID, code=code, name=name, nominal=nominal, price=price, active=on)
        for code, name, nominal, price, on in [
            ("tsel25", "Telkomsel", "25000", 25500, True),
            ("tsel25b", "Telkomsel", "25000", 25200, True),
            ("tsel25c", "Telkomsel", "25000", 24900, False),
            ("tsel50", "Telkomsel", "50000", 49900, True),
            ("isat25", "Indosat", "25000", 25100, True),
        ]
    )
    fetched = NOW - timedelta(minutes=3)
    offer = offer_for("Telkomsel", ["tsel25"], products, fetched)
    assert offer.alternatives == (Alternative("tsel25b", 25200),)
    assert offer_for("Telkomsel", ["tsel25"], None, None).fetched_at is None
    change = decide(activity(window(30, 20), week()), None, NOW, CONFIG, Measure.RATE, offer)
    assert change is not None and isinstance(change.details, OperatorDetails)
    assert change.details.alternatives == (Alternative("tsel25b", 25200),)
    assert change.details.price_list_at == fetched


def test_while_the_usual_is_still_being_read_a_thin_one_judges_nothing() -> None:
    """After a start the watch reads the week newest hour first: an operator with fewer than
    a hundred final top-ups in what it read so far might usually fail more than 5 %."""
    thin = activity(window(10, 30), week(final=50, failed=0))
    partial = dataclasses.replace(thin, usual_complete=False)
    assert decide(partial, None, NOW, CONFIG, Measure.RATE) is None
    # the whole week read: 50 final top-ups are no history, judged against 95 %
    incident = opened(decide(thin, None, NOW, CONFIG, Measure.RATE))
    # an open incident is kept as it is: not knowing the usual is no recovery
    recovered = dataclasses.replace(
        activity(window(50, 0), week(final=50, failed=0)), usual_complete=False
    )
    for later in (NOW + WINDOW, NOW + 3 * WINDOW):
        assert decide(recovered, incident, later, CONFIG, Measure.RATE) is None
    # with a hundred final top-ups in what was read, it is judged on them
    enough = dataclasses.replace(activity(window(10, 30), week()), usual_complete=False)
    assert decide(enough, None, NOW, CONFIG, Measure.RATE) is not None
