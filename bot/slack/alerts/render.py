"""Alert messages: an incident's parent message and its thread replies, as Block Kit.

Pure: the incident (with its typed figures) and the time in, a message out. The parent is
always rendered from the incident's current state, so a late or repeated edit shows the
truth. What a kind looks like is its renderer's (`kinds/`); what every incident shares (the
status line, the buttons, acknowledgements, follow-ups) is here.
"""

from __future__ import annotations

from datetime import datetime

from bot.clock import wib_moment, wib_time
from bot.i18n import _, ngettext
from bot.incidents.model import (
    Acknowledged,
    Escalated,
    Incident,
    Intent,
    Missed,
    MuteEnded,
    Rechecked,
    Reminder,
    Reply,
    Resolved,
    ThreadReply,
)
from bot.registry import Registry
from bot.slack.alerts.common import View, lasting
from bot.slack.alerts.kinds import renderer
from bot.slack.blocks.markup import join, md, mention, mentions
from bot.slack.blocks.text import Block, Message, actions, button, context, message, plain, section

ACK_ACTION = "incident_ack"
MUTE_ACTION = "incident_mute"
RECHECK_NOW_ACTION = "incident_recheck"
MUTE_CHOICES = (60, 240, 1440)


def alert_message(
    intent: Intent,
    incident: Incident,
    now: datetime,
    registry: Registry,
    *,
    mask: bool,
    oncall: tuple[str, ...] = (),
) -> Message:
    """What an outbox row says: a thread reply, or the parent as the incident stands now.
    `oncall` (ONCALL_MENTION) is mentioned in escalations and in the parents of open
    incidents that stop all sales."""
    if isinstance(intent, ThreadReply):
        return reply_message(incident, intent.reply, registry, mask=mask, oncall=oncall)
    return parent_message(incident, now, registry, mask=mask, oncall=oncall)


def parent_message(
    incident: Incident,
    now: datetime,
    registry: Registry,
    *,
    mask: bool,
    oncall: tuple[str, ...] = (),
) -> Message:
    """The incident's parent message, as its state is now (with its buttons while open)."""
    view = View(registry, mask, oncall)
    kind = renderer(incident.kind)
    drawn = kind.parent(incident, now, view)
    if kind.plain_post:
        return drawn
    if oncall and incident.is_open and incident.details.sales_stopped():
        who = mentions(oncall)
        drawn["text"] = md("{} {}", who, drawn["text"])
        told = md(_("{who}: every sale fails while this lasts."), who=who)
        drawn["blocks"].insert(1, section(told))
    drawn["blocks"].append(_status_context(incident, now))
    if incident.is_open:
        drawn["blocks"].append(incident_buttons(incident, now))
    return drawn


def _status_context(incident: Incident, now: datetime) -> Block:
    parts = [md(_("Opened {when}"), when=wib_moment(incident.opened_at))]
    if not incident.is_open and incident.resolved_at is not None:
        parts.append(md(_("resolved {when}"), when=wib_moment(incident.resolved_at)))
    if incident.acknowledged_by:
        parts.append(
            md(":eyes: " + _("Acknowledged by {person}"), person=mention(incident.acknowledged_by))
        )
    if incident.muted(now) and incident.muted_until is not None:
        until = wib_time(incident.muted_until)
        if incident.muted_by:
            muted = md(
                _("muted until {time} by {person}"), time=until, person=mention(incident.muted_by)
            )
        else:
            muted = md(_("muted until {time}"), time=until)
        parts.append(md(":no_bell: {}", muted))
    return context(join(parts, " · "))


def incident_buttons(incident: Incident, now: datetime) -> Block:
    """Acknowledge, Mute (1 h / 4 h / 24 h, and what the kind adds; Unmute) and, where the
    kind has transactions waiting, Recheck now. The value of each is the incident's id."""
    key = str(incident.id)
    drawn = renderer(incident.kind)
    elements: list[Block] = []
    if not incident.acknowledged_by:
        elements.append(button(_("Acknowledge"), ACK_ACTION, key, style="primary"))
    if drawn.recheckable:
        elements.append(button(_("Recheck now"), RECHECK_NOW_ACTION, key))
    options = [
        _option(
            _("Mute for {duration}").format(duration=_("{hours} h").format(hours=minutes // 60)),
            f"{key}:{minutes}",
        )
        for minutes in MUTE_CHOICES
    ]
    options += [_option(label, f"{key}:{value}") for label, value in drawn.mute_options(incident)]
    if incident.muted(now):
        options.insert(0, _option(_("Unmute"), f"{key}:0"))
    elements.append(
        {
            "type": "static_select",
            "action_id": MUTE_ACTION,
            "placeholder": plain(_("Muted") if incident.muted(now) else _("Mute…")),
            "options": options,
        }
    )
    return actions(*elements, block_id=f"incident_{key}")


def _option(text: str, value: str) -> Block:
    return {"text": plain(text, 75), "value": value}


def reply_message(
    incident: Incident,
    reply: Reply,
    registry: Registry,
    *,
    mask: bool,
    oncall: tuple[str, ...] = (),
) -> Message:
    """A thread reply."""
    drawn = renderer(incident.kind)
    match reply:
        case Escalated() | Reminder() | MuteEnded():
            return _follow_up(incident, reply, oncall)
        case Resolved():
            text = drawn.resolved(incident, reply, lasting(reply.duration_seconds))
            return message(text, [section(f":white_check_mark: {text}")])
        case Missed():
            text = ngettext(
                "{count} update from {since} to {until} was not posted while Slack could not "
                "take it; the message above shows where this stands now.",
                "{count} updates from {since} to {until} were not posted while Slack could not "
                "take them; the message above shows where this stands now.",
                reply.count,
            ).format(
                count=reply.count, since=wib_moment(reply.since), until=wib_moment(reply.until)
            )
            return message(text, [section(f":hourglass: {text}")])
        case Acknowledged():
            told = md(_("Acknowledged by {person}."), person=mention(reply.user_id))
            return message(told, [section(md(":eyes: {}", told))])
        case Rechecked():
            told = md(
                ngettext(
                    "Rechecked {asked} waiting transaction at IAK on request of {person}; IAK "
                    "answered {answered}. Settled ones follow in this thread.",
                    "Rechecked {asked} waiting transactions at IAK on request of {person}; IAK "
                    "answered {answered}. Settled ones follow in this thread.",
                    reply.asked,
                ),
                asked=reply.asked,
                person=mention(reply.user_id),
                answered=reply.answered,
            )
            return message(told, [section(told)])
    return drawn.reply(incident, reply, View(registry, mask, oncall))


def _follow_up(
    incident: Incident, reply: Escalated | Reminder | MuteEnded, oncall: tuple[str, ...]
) -> Message:
    drawn = renderer(incident.kind)
    match reply:
        case Escalated():
            who = mentions(oncall) if oncall else md(_("Everyone"))
            told = md(
                _("{who}: nobody has acknowledged this for {open}. {changed}"),
                who=who,
                open=lasting(reply.open_seconds),
                changed=drawn.changed_since_open(incident),
            )
            return message(told, [section(md(":rotating_light: {}", told))])
        case Reminder():
            told = md(
                _(
                    "{who}: you acknowledged this {ago} ago and it is still open. Resolve "
                    "it, or hand it over."
                ),
                who=mention(reply.user_id),
                ago=lasting(reply.acknowledged_seconds),
            )
            return message(told, [section(md(":alarm_clock: {}", told))])
        case MuteEnded():
            ended = (
                md(_("Mute by {who} ended"), who=mention(reply.muted_by))
                if reply.muted_by
                else md(_("The mute ended"))
            )
            if reply.more is None:
                told = md(_("{ended}; this is still open."), ended=ended)
            else:
                told = md(
                    _("{ended}; {more}."), ended=ended, more=drawn.more_since(max(reply.more, 0))
                )
            return message(told, [section(md(":bell: {}", told))])
