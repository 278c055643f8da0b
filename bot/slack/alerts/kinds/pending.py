"""How long-pending top-ups look: the waiting list, who joined, how they settled."""

from __future__ import annotations

from datetime import datetime

from bot.clock import wib_time
from bot.i18n import N_, _, ngettext
from bot.incidents.kinds.pending import (
    PendingDetails,
    PendingJoined,
    PendingOutcomes,
    Settlement,
)
from bot.incidents.model import Incident, Reply, Resolved
from bot.outcomes import code_key, split_code_key
from bot.registry import Registry
from bot.slack.alerts.common import Renderer, View, member_line
from bot.slack.blocks.durations import duration
from bot.slack.blocks.markup import join, md
from bot.slack.blocks.text import Block, Message, context, header, message, number, section

_SETTLED_WORDS = {
    Settlement.SUCCESS: (":white_check_mark:", N_("succeeded")),
    Settlement.FAILED: (":x:", N_("failed")),
    Settlement.GAVE_UP: (":zzz:", N_("still pending after 24 h: no longer checked")),
}


class PendingRenderer(Renderer):
    """Transactions pending too long."""

    emoji = ":hourglass_flowing_sand:"
    recheckable = True

    def parent(self, incident: Incident, now: datetime, view: View) -> Message:
        d = incident.details
        assert isinstance(d, PendingDetails)
        settled = _("{succeeded} succeeded · {failed} failed").format(
            succeeded=d.succeeded, failed=d.failed
        )
        if d.gave_up:
            settled += " · " + _("{count} no longer checked (24 h)").format(count=d.gave_up)
        if incident.is_open:
            title = ":hourglass_flowing_sand: " + ngettext(
                "{count} top-up pending too long", "{count} top-ups pending too long", d.waiting
            ).format(count=d.waiting)
            text = ngettext(
                "{count} top-up has been pending too long ({total} in this incident).",
                "{count} top-ups have been pending too long ({total} in this incident).",
                d.waiting,
            ).format(count=d.waiting, total=d.total)
        else:
            title = ":white_check_mark: " + ngettext(
                "Resolved: {total} long-pending top-up settled",
                "Resolved: {total} long-pending top-ups settled",
                d.total,
            ).format(total=d.total)
            text = _("Resolved: all {total} long-pending top-ups settled ({settled}).").format(
                total=d.total, settled=settled
            )
        blocks: list[Block] = [header(title)]
        blocks.append(
            section(
                _("*{waiting}* still pending of *{total}* · {settled}").format(
                    waiting=d.waiting, total=d.total, settled=settled
                )
            )
        )
        if incident.is_open and d.members:
            lines = [
                md(
                    _("{transaction} · pending {duration}"),
                    transaction=member_line(
                        member.ref_id, member.product_code, member.customer_id, view.mask
                    ),
                    duration=duration(now - member.started_at),
                )
                for member in d.members
            ]
            more = d.waiting - len(lines)
            if more > 0:
                lines.append(md("_{}_", _("+{count} more").format(count=more)))
            blocks.append(section(join(lines)))
            blocks.append(
                context(
                    _(
                        "Do not refund or resend these yet: IAK may still complete them. "
                        "Outcomes follow in this thread; `/iak status <ref_id>` checks one now."
                    )
                )
            )
        return message(text, blocks)

    def reply(self, incident: Incident, reply: Reply, view: View) -> Message:
        if isinstance(reply, PendingJoined):
            lines = [
                member_line(m.ref_id, m.product_code, m.customer_id, view.mask)
                for m in reply.members
            ]
            if reply.more:
                lines.append(md("_{}_", _("+{count} more").format(count=reply.more)))
            count = len(reply.members) + reply.more
            text = ngettext(
                "{count} more top-up pending too long; {waiting} waiting now.",
                "{count} more top-ups pending too long; {waiting} waiting now.",
                count,
            ).format(count=count, waiting=reply.waiting)
            body = md(":hourglass_flowing_sand: {}\n{}", text, join(lines))
            return message(text, [section(body)])
        if isinstance(reply, PendingOutcomes):
            return _outcomes(reply, view)
        return super().reply(incident, reply, view)

    def title(self, incident: Incident, registry: Registry) -> str:
        d = incident.details
        assert isinstance(d, PendingDetails)
        return ngettext(
            "{count} top-up pending too long", "{count} top-ups pending too long", d.waiting
        ).format(count=d.waiting)

    def resolved(self, incident: Incident, reply: Resolved, lasted: str) -> str:
        return _("Resolved after {lasted}: all {total} long-pending top-ups settled.").format(
            lasted=lasted, total=number(reply.total)
        )

    def changed_since_open(self, incident: Incident) -> str:
        d = incident.details
        assert isinstance(d, PendingDetails)
        return _(
            "{total} top-ups joined since it opened at {opened}: {waiting} still waiting, "
            "{succeeded} succeeded, {failed} failed."
        ).format(
            total=d.total,
            opened=wib_time(incident.opened_at),
            waiting=d.waiting,
            succeeded=d.succeeded,
            failed=d.failed,
        )

    def more_since(self, more: int) -> str:
        return ngettext(
            "{count} more top-up pending too long since",
            "{count} more top-ups pending too long since",
            more,
        ).format(count=more)


def _outcomes(reply: PendingOutcomes, view: View) -> Message:
    lines = []
    failed_rcs: dict[str, int] = {}
    for item in reply.items:
        failed = item.outcome is Settlement.FAILED
        key = code_key(item.line, item.rc) if item.rc else None
        suffix = f" (rc {key})" if key and failed else ""
        lines.append(
            md(
                "{}: {}{}",
                member_line(item.ref_id, item.product_code, item.customer_id, view.mask),
                _settled(item.outcome),
                suffix,
            )
        )
        if failed and key:
            failed_rcs[key] = failed_rcs.get(key, 0) + 1
    if reply.more:
        lines.append(md("_{}_", _("+{count} more").format(count=reply.more)))
    blocks: list[Block] = [section(join(lines))]
    for rc, count in list(failed_rcs.items())[:5]:
        line, number_ = split_code_key(rc)
        code = view.registry.rc(number_, line=line)
        if code is not None:
            blocks.append(
                section(
                    f"*{rc} {code.description}* ({count}): *{code.action.label}* "
                    f"({code.owner.label}). {code.translated_advice}"
                )
            )
    done = len(reply.items) + reply.more
    settled = ngettext(
        "{count} long-pending top-up settled.", "{count} long-pending top-ups settled.", done
    )
    return message(settled.format(count=done), blocks)


def _settled(outcome: Settlement) -> str:
    emoji, words = _SETTLED_WORDS[outcome]
    return f"{emoji} {_(words)}"


RENDERER = PendingRenderer()
