"""Nobody left alone with an incident: what an open incident needs from people, whatever its
kind (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.incidents.config import MonitorConfig
from bot.incidents.model import (
    Escalated,
    FollowUp,
    Incident,
    IncidentFollowUp,
    MuteEnded,
    ParentState,
    Reminder,
    ThreadReply,
    lasted,
)

# Incidents that do not stop all sales escalate this many times later.
SLOWER_ESCALATION = 4
# An acknowledged incident still open this long after reminds whoever acknowledged it.
REMIND_AFTER = timedelta(hours=4)


def escalate_after(incident: Incident, config: MonitorConfig) -> timedelta:
    """How long an incident may go unacknowledged: ESCALATE_AFTER_SECONDS for a code that
    stops all sales, four times that for anything else."""
    if incident.details.sales_stopped():
        return config.escalate_after
    return config.escalate_after * SLOWER_ESCALATION


def decide_follow_up(
    incident: Incident, now: datetime, config: MonitorConfig
) -> IncidentFollowUp | None:
    """What an open incident needs from people: a mute that ran out is told in its thread and
    the channel; one nobody acknowledged in time is re-announced to on-call, once; one
    acknowledged hours ago reminds whoever did, once."""
    if not incident.is_open or incident.parent_state not in (
        ParentState.QUEUED,
        ParentState.POSTED,
    ):
        return None  # no thread to say it in (held by a mute, or failed for good)
    if incident.muted_until is not None:
        if incident.muted_until > now:
            return None
        total, before = incident.details.running_total(), incident.muted_total
        more = total - before if total is not None and before is not None else None
        ended = MuteEnded(muted_by=incident.muted_by, more=more)
        return IncidentFollowUp(
            incident.id, FollowUp.MUTE_ENDED, (ThreadReply(ended, broadcast=True),)
        )
    if incident.acknowledged_by is not None:
        since = incident.acknowledged_at
        if incident.reminded_at is None and since is not None and now - since >= REMIND_AFTER:
            reminder = Reminder(incident.acknowledged_by, (now - since).total_seconds())
            return IncidentFollowUp(incident.id, FollowUp.REMINDED, (ThreadReply(reminder),))
        return None
    if (
        incident.escalated_at is None
        and incident.details.escalates()
        and now - incident.opened_at >= escalate_after(incident, config)
    ):
        escalated = Escalated(open_seconds=lasted(incident, now))
        return IncidentFollowUp(
            incident.id, FollowUp.ESCALATED, (ThreadReply(escalated, broadcast=True),)
        )
    return None
