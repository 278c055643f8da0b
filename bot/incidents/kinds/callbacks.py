"""IAK's callbacks missing or refused: one incident while the outcomes of the last hour were
learned only by asking, or callbacks keep being refused; it resolves once a callback is
accepted again."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, func, select

from bot.config import IAK_CALLBACK_IPS
from bot.incidents.config import REFRESH_PARENT_EVERY, MonitorConfig
from bot.incidents.model import (
    Details,
    Incident,
    IncidentChange,
    IncidentKind,
    PostParent,
    Resolved,
    UpdateParent,
    lasted,
    resolution,
)
from bot.incidents.watch import Tick, WatchContext
from bot.outcomes import FINAL_VALUES, Line, Refusal, Source
from bot.store.callbacks import prune_refusals
from bot.store.schema import UTCDateTime, callback_refusals, transaction_events, transactions

KIND = IncidentKind.CALLBACKS
# Over the last hour: this many final outcomes learned by asking with none by callback means
# callbacks are missing; this many refused since the last one accepted means they are being
# refused.
CALLBACK_WINDOW = timedelta(hours=1)
MISSING_CALLBACK_FINALS = 5
REFUSED_CALLBACKS = 3
# Refused callbacks are kept this long (the monitor only looks back one window).
KEEP_REFUSALS = timedelta(days=2)
t = transactions.c


class CallbackProblem(StrEnum):
    """What is wrong with IAK's callbacks."""

    MISSING = "missing"  # outcomes learned by asking, none by callback
    REFUSED = "refused"  # callbacks arrive, and the bot refuses them


@dataclass(frozen=True)
class RefusedCallbacks:
    """Callbacks refused for one reason in the window, and the last one's particulars."""

    reason: Refusal
    count: int
    last_at: datetime
    address: str | None = None  # who called, as the allowlist judged it
    detail: str | None = None  # what the bot answered was wrong


@dataclass(frozen=True)
class CallbackDetails(Details):
    """IAK's callbacks over the last hour: final outcomes learned without one, and those
    refused since the last one accepted."""

    problem: CallbackProblem
    finals_without: int  # final outcomes learned by re-checks and forwarded answers
    refused: tuple[RefusedCallbacks, ...] = ()
    window_seconds: float = 3600
    iak_env: str = "production"
    iak_address: str | None = None  # where IAK's documentation says it calls back from
    refreshed_at: datetime | None = None

    def escalates(self) -> bool:
        # Refusals can come from anyone who learns a ref_id: never a reason to page on-call.
        return False

    @property
    def refused_count(self) -> int:
        """Callbacks refused in the window, for every reason."""
        return sum(item.count for item in self.refused)


DETAILS = CallbackDetails
REPLIES = ()


@dataclass(frozen=True)
class CallbackActivity:
    """IAK's callbacks over the last CALLBACK_WINDOW."""

    # final outcomes the bot learned without a callback (its re-checks, forwarded answers)
    finals_without: int
    callbacks: int  # callbacks stored
    last_callback_at: datetime | None  # the last one stored, within the window
    # refused since the last one accepted, per reason
    refused: tuple[RefusedCallbacks, ...] = ()


# --- The decision (pure) -------------------------------------------------------------------


def decide(
    activity: CallbackActivity, incident: Incident | None, now: datetime, config: MonitorConfig
) -> IncidentChange | None:
    """One incident while IAK's callbacks are refused or missing, saying which; it resolves
    once a callback is accepted again."""
    refused = sum(item.count for item in activity.refused)
    if refused >= REFUSED_CALLBACKS:
        problem: CallbackProblem | None = CallbackProblem.REFUSED
    elif activity.finals_without >= MISSING_CALLBACK_FINALS and activity.callbacks == 0:
        problem = CallbackProblem.MISSING
    else:
        problem = None
    key = KIND.value
    if incident is None:
        if problem is None:
            return None
        opened = CallbackDetails(
            problem=problem,
            finals_without=activity.finals_without,
            refused=activity.refused,
            window_seconds=CALLBACK_WINDOW.total_seconds(),
            iak_env=config.iak_env,
            iak_address=IAK_CALLBACK_IPS.get(config.iak_env),
            refreshed_at=now,
        )
        return IncidentChange(KIND, key, None, opened, (PostParent(),))
    before = incident.details
    assert isinstance(before, CallbackDetails)
    accepted = activity.last_callback_at
    if accepted is not None and accepted > incident.opened_at:
        resolved = Resolved(lasted(incident, now))
        return resolution(incident, replace(before, refreshed_at=now), resolved)
    details = replace(
        before,
        problem=problem or before.problem,
        finals_without=activity.finals_without,
        refused=activity.refused or before.refused,
    )
    if details == before:
        return None
    if before.refreshed_at is not None and now - before.refreshed_at < REFRESH_PARENT_EVERY:
        return None
    details = replace(details, refreshed_at=now)
    return IncidentChange(incident.kind, key, incident.id, details, (UpdateParent(),))


# --- What it gathers (SQL, in the tick's transaction) ------------------------------------------


def callback_activity(connection: Connection, now: datetime) -> CallbackActivity:
    """IAK's callbacks over the last window: outcomes learned without one, those stored, and
    those refused since the last one stored. The history knows where each answer came from;
    refusals are what the intake of every process counted (bot.store.callbacks)."""
    since = now - CALLBACK_WINDOW
    e = transaction_events.c
    callbacks, last = connection.execute(
        select(func.count(), func.max(e.observed_at, type_=UTCDateTime())).where(
            e.observed_at >= since, e.source == Source.CALLBACK.value
        )
    ).one()
    # The answers that made a prepaid top-up final, from anywhere but a callback (IAK never
    # calls back postpaid bills). They matter only while no callback came at all.
    finals_without = 0
    if not callbacks:
        prepaid = (
            select(t.ref_id).where(t.ref_id == e.ref_id, t.line == Line.PREPAID.value).exists()
        )
        finals_without = connection.execute(
            select(func.count()).where(
                e.observed_at >= since,
                e.source != Source.CALLBACK.value,
                e.applied.is_(True),
                e.outcome.in_(FINAL_VALUES),
                prepaid,
            )
        ).scalar_one()
    last_callback_at: datetime | None = last
    r = callback_refusals.c
    after = since if last_callback_at is None else max(since, last_callback_at)
    rows = connection.execute(
        select(r.reason, r.count, r.last_at, r.address, r.detail)
        .where(r.last_at >= since, r.last_at > after)
        .order_by(r.last_at, r.id)
    ).all()
    refused: dict[Refusal, RefusedCallbacks] = {}
    for row in rows:
        try:
            reason = Refusal(row.reason)
        except ValueError:
            continue  # written by a newer version
        before = refused.get(reason)
        refused[reason] = RefusedCallbacks(
            reason=reason,
            count=int(row[1]) + (before.count if before else 0),
            last_at=row.last_at,
            address=row.address,
            detail=row.detail,
        )
    return CallbackActivity(
        finals_without=int(finals_without),
        callbacks=int(callbacks),
        last_callback_at=last_callback_at,
        refused=tuple(refused[reason] for reason in Refusal if reason in refused),
    )


# --- The watch ---------------------------------------------------------------------------------


class CallbacksWatch:
    """IAK's callbacks over the last hour, as the history and the intake's refusals show."""

    def __init__(self, config: MonitorConfig) -> None:
        self.config = config

    def run(self, tick: Tick) -> None:
        """One tick: the last hour's callbacks, decided; old refusals forgotten."""
        heard = callback_activity(tick.connection, tick.now)
        tick.apply(decide(heard, tick.open_incident(KIND), tick.now, self.config))
        prune_refusals(tick.connection, tick.now - KEEP_REFUSALS)


def watch(context: WatchContext) -> CallbacksWatch | None:
    """The callbacks watch; None unless WATCH_CALLBACKS."""
    return CallbacksWatch(context.config) if context.config.watch_callbacks else None
