"""How the shift handover looks, in the channel (at a HANDOVER_TIMES slot) and as the answer
to `/iak handover`: each open incident titled as its own kind's renderer titles it."""

from __future__ import annotations

from datetime import datetime

from bot.clock import wib_moment
from bot.i18n import _, ngettext
from bot.incidents.codec import decode_details
from bot.incidents.kinds.handover import HandedIncident, HandedMute, HandoverDetails
from bot.incidents.model import Incident, IncidentKind, IncidentStatus
from bot.registry import Registry
from bot.slack.alerts.common import Renderer, View
from bot.slack.alerts.kinds import renderer
from bot.slack.blocks.digest import failure_code_line
from bot.slack.blocks.durations import duration
from bot.slack.blocks.markup import Mrkdwn, join, link, md, mention, permalink
from bot.slack.blocks.text import Block, Message, context, divider, header, message, section


def handover_title(details: HandoverDetails) -> str:
    """`Shift handover · 16:00 WIB`, or when it was asked for."""
    if details.slot is not None:
        return _("Shift handover · {slot} WIB").format(slot=details.slot)
    return _("Shift handover · {when}").format(when=wib_moment(details.gathered_at))


def handover_message(details: HandoverDetails, registry: Registry) -> Message:
    """The handover: open incidents, mutes, old pending transactions, recent failures."""
    blocks: list[Block] = [
        header(handover_title(details)),
        section(_incidents_text(details, registry)),
        section(_mutes_text(details)),
        divider(),
        section(_pending_text(details)),
        section(_failures_text(details, registry)),
        context(
            _("As of {when}. `/iak pending` and `/iak stats 24h` have the details.").format(
                when=wib_moment(details.gathered_at)
            )
        ),
    ]
    return message(_summary(details), blocks)


def _summary(details: HandoverDetails) -> str:
    open_ = len(details.incidents) + details.more_incidents
    return "{}: {}; {}; {}".format(
        handover_title(details),
        ngettext("{count} open incident", "{count} open incidents", open_).format(count=open_),
        ngettext(
            "{count} transaction pending too long",
            "{count} transactions pending too long",
            details.old_pending,
        ).format(count=details.old_pending),
        ngettext(
            "{count} failure in the last 8 h",
            "{count} failures in the last 8 h",
            _failures(details),
        ).format(count=_failures(details)),
    )


def _failures(details: HandoverDetails) -> int:
    return sum(code.count for code in details.failures) + details.other_failures


def _incidents_text(details: HandoverDetails, registry: Registry) -> Mrkdwn | str:
    open_ = len(details.incidents) + details.more_incidents
    if not open_:
        return "*{}*\n:white_check_mark: {}".format(_("Open incidents"), _("None. All quiet."))
    lines: list[Mrkdwn | str] = [md("*{}* ({})", _("Open incidents"), open_)]
    lines.extend(
        _incident_line(handed, details.gathered_at, registry) for handed in details.incidents
    )
    if details.more_incidents:
        lines.append(
            md("_{}_", _("+{count} more in the ops channel").format(count=details.more_incidents))
        )
    return join(lines)


def _incident_line(handed: HandedIncident, now: datetime, registry: Registry) -> Mrkdwn:
    kind = IncidentKind(handed.kind)
    incident = Incident(
        id=handed.id,
        kind=kind,
        key=handed.key,
        status=IncidentStatus.OPEN,
        opened_at=handed.opened_at,
        updated_at=handed.opened_at,
        resolved_at=None,
        channel=handed.channel,
        parent_ts=handed.parent_ts,
        details=decode_details(kind, handed.details),
    )
    drawn = renderer(kind)
    title: Mrkdwn | str = drawn.title(incident, registry)
    if handed.channel and handed.parent_ts:
        title = link(permalink(handed.channel, handed.parent_ts), str(title))
    if handed.acknowledged_by:
        who = md(_("acknowledged by {person}"), person=mention(handed.acknowledged_by))
    else:
        who = md(":warning: {}", _("nobody has acknowledged it"))
    extra = [who]
    if handed.muted_until is not None:
        extra.append(_muted(handed.muted_until, handed.muted_by))
    age = duration(now - handed.opened_at)
    line = md("{} " + _("{title} · open {age}"), drawn.emoji, title=title, age=age)
    return md("{} · {}", line, join(extra, ", "))


def _muted(until: datetime, by: str | None) -> Mrkdwn:
    if by:
        return md(_("muted until {time} by {person}"), time=wib_moment(until), person=mention(by))
    return md(_("muted until {time}"), time=wib_moment(until))


def _mutes_text(details: HandoverDetails) -> Mrkdwn | str:
    if not details.mutes:
        return "*{}*\n{}".format(_("Muted for new incidents"), _("Nothing."))
    lines: list[Mrkdwn | str] = [md("*{}*", _("Muted for new incidents"))]
    lines.extend(_mute_line(mute) for mute in details.mutes)
    return join(lines)


def _mute_line(mute: HandedMute) -> Mrkdwn:
    what = _("rc {key}") if mute.kind == IncidentKind.SPIKE.value else _("product {key}")
    if mute.kind not in (IncidentKind.SPIKE.value, IncidentKind.PRODUCT.value):
        what = "{kind} {key}"
    return md(
        "• {} · {}", what.format(key=mute.key, kind=mute.kind), _muted(mute.until, mute.muted_by)
    )


def _pending_text(details: HandoverDetails) -> str:
    minutes = round(details.age_out_seconds / 60)
    title = _("*Pending for over {minutes} min*").format(minutes=minutes)
    if not details.old_pending or details.oldest_pending_at is None:
        return f"{title}\n:white_check_mark: " + _("None.")
    waited = duration(details.gathered_at - details.oldest_pending_at)
    text = ngettext(
        "{count} transaction, the oldest waiting {age}. Never sell them again under a new "
        "ref_id: recheck them.",
        "{count} transactions, the oldest waiting {age}. Never sell them again under a new "
        "ref_id: recheck them.",
        details.old_pending,
    ).format(count=details.old_pending, age=waited)
    return f"{title}\n:hourglass_flowing_sand: {text}"


def _failures_text(details: HandoverDetails, registry: Registry) -> Mrkdwn | str:
    failures = _failures(details)
    if not failures:
        return "*{}*\n:white_check_mark: {}".format(
            _("Failures in the last 8 h"), _("No failures.")
        )
    lines: list[Mrkdwn | str] = [md("*{}* · {}", _("Failures in the last 8 h"), failures)]
    lines.extend(failure_code_line(code.rc, code.count, registry) for code in details.failures)
    if details.other_failures:
        lines.append(_("_+{count} failures of other codes_").format(count=details.other_failures))
    return join(lines)


class HandoverRenderer(Renderer):
    """What the next shift needs (a post, never an open incident)."""

    emoji = ":handshake:"
    plain_post = True

    def parent(self, incident: Incident, now: datetime, view: View) -> Message:
        assert isinstance(incident.details, HandoverDetails)
        return handover_message(incident.details, view.registry)

    def title(self, incident: Incident, registry: Registry) -> str:
        assert isinstance(incident.details, HandoverDetails)
        return handover_title(incident.details)


RENDERER = HandoverRenderer()
