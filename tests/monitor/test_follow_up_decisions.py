"""The pure decisions behind callback health and follow-ups, at their edges."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.incidents.follow_up import decide_follow_up
from bot.incidents.kinds.callbacks import (
    CallbackActivity,
    CallbackDetails,
    CallbackProblem,
    RefusedCallbacks,
)
from bot.incidents.kinds.callbacks import decide as decide_callbacks
from bot.incidents.model import (
    Escalated,
    FollowUp,
    Incident,
    IncidentChange,
    IncidentKind,
    IncidentStatus,
    MuteEnded,
    ParentState,
    PostParent,
    ThreadReply,
)
from bot.incidents.repository import IncidentRepository
from bot.outcomes import Refusal
from bot.store.db import create_db_engine
from bot.store.schema import mutes
from tests.support.alerts import CONFIG, spike_details

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def spike(stops_sales: bool = False, **fields: object) -> Incident:
    values: dict[str, object] = {
        "id": 7,
        "kind": IncidentKind.SPIKE,
        "key": "102",
        "status": IncidentStatus.OPEN,
        "opened_at": T0,
        "updated_at": T0,
        "resolved_at": None,
        "channel": "C0ALERTS",
        "parent_ts": "1.1",
        "details": spike_details("102", T0, stops_sales=stops_sales),
        "parent_state": ParentState.POSTED,
        **fields,
    }
    return Incident(**values)  # type: ignore[arg-type]


def test_escalation_waits_four_times_longer_unless_sales_stop() -> None:
    minutes_15 = T0 + timedelta(seconds=900)
    follow = decide_follow_up(spike(stops_sales=True), minutes_15, CONFIG)
    assert follow is not None and follow.follow_up is FollowUp.ESCALATED
    assert follow.intents == (ThreadReply(Escalated(900.0), broadcast=True),)
    assert decide_follow_up(spike(), minutes_15, CONFIG) is None
    assert decide_follow_up(spike(), T0 + timedelta(hours=1), CONFIG) is not None
    assert (
        decide_follow_up(spike(True, escalated_at=minutes_15), T0 + timedelta(hours=9), CONFIG)
        is None
    )


def test_nothing_is_said_where_there_is_no_thread_or_while_muted() -> None:
    late = T0 + timedelta(hours=2)
    assert decide_follow_up(spike(True, parent_state=ParentState.HELD), late, CONFIG) is None
    assert decide_follow_up(spike(True, parent_state=ParentState.FAILED), late, CONFIG) is None
    muted = spike(True, muted_until=late + timedelta(minutes=1), muted_by="U0M", muted_total=2)
    assert decide_follow_up(muted, late, CONFIG) is None
    ended = decide_follow_up(muted, late + timedelta(minutes=1), CONFIG)
    assert ended is not None and ended.follow_up is FollowUp.MUTE_ENDED
    assert ended.intents == (ThreadReply(MuteEnded("U0M", more=10), broadcast=True),)


def callbacks_incident(problem: CallbackProblem) -> Incident:
    details = CallbackDetails(problem=problem, finals_without=5, refreshed_at=T0)
    return replace(spike(), kind=IncidentKind.CALLBACKS, key="callbacks", details=details)


def test_refusals_outrank_missing_callbacks_and_only_a_later_callback_resolves() -> None:
    refused = (RefusedCallbacks(Refusal.BAD_SIGN, 3, T0),)
    both = CallbackActivity(finals_without=9, callbacks=0, last_callback_at=None, refused=refused)
    opened = decide_callbacks(both, None, T0, CONFIG)
    assert opened is not None and isinstance(opened.details, CallbackDetails)
    assert opened.details.problem is CallbackProblem.REFUSED
    heard = CallbackActivity(finals_without=9, callbacks=1, last_callback_at=T0)
    assert decide_callbacks(heard, None, T0, CONFIG) is None  # one callback: not missing
    incident = callbacks_incident(CallbackProblem.MISSING)
    before = CallbackActivity(9, 1, T0 - timedelta(seconds=1))
    assert decide_callbacks(before, incident, T0 + timedelta(seconds=5), CONFIG) is None
    after = CallbackActivity(9, 1, T0 + timedelta(seconds=1))
    resolved = decide_callbacks(after, incident, T0 + timedelta(seconds=5), CONFIG)
    assert resolved is not None and resolved.resolve


def test_a_parent_held_by_a_mute_is_the_announcement_when_the_mute_ends(
    database_url: str,
) -> None:
    """An incident that opened under an rc's standing mute is posted when the mute ends; it
    may have opened long before, but it does not escalate straight after, nor say that a
    mute ended: its parent is the news."""
    engine = create_db_engine(database_url)
    repository = IncidentRepository(engine)
    until = T0 + timedelta(hours=24)
    with repository.writing() as connection:
        connection.execute(mutes.insert().values(kind="spike", key="102", until=until))
        details = spike_details("102", T0, stops_sales=True)
        change = IncidentChange(IncidentKind.SPIKE, "102", None, details, (PostParent(),))
        repository.apply_change(connection, change, T0, "C0ALERTS")
    (held,) = repository.open_incidents()
    assert held.parent_state is ParentState.HELD
    later = until + timedelta(minutes=1)
    assert decide_follow_up(held, later, CONFIG) is None  # nothing to say it under
    with repository.writing() as connection:
        assert repository.release_held_parents(connection, later) == 1
    (posted,) = repository.open_incidents()
    assert posted.parent_state is ParentState.QUEUED
    assert posted.muted_until is None and posted.escalated_at == later
    assert decide_follow_up(posted, later + timedelta(hours=1), CONFIG) is None
    engine.dispose()
