"""How conflicting outcomes look: what each answer said and when, and what IAK settled."""

from __future__ import annotations

from datetime import datetime

from bot.clock import wib_moment, wib_time
from bot.i18n import _
from bot.incidents.kinds.conflict import ConflictDetails, ConflictSettled
from bot.incidents.model import Incident, Reply
from bot.registry import Registry
from bot.slack.alerts.common import Renderer, View, member_line
from bot.slack.blocks.markup import join, md
from bot.slack.blocks.outcomes import OUTCOME_COUNTED, SOURCE_PHRASES
from bot.slack.blocks.text import Block, Message, context, header, message, section, truncate


class ConflictRenderer(Renderer):
    """Answers that disagree on whether a transaction succeeded."""

    emoji = ":warning:"

    def parent(self, incident: Incident, now: datetime, view: View) -> Message:
        d = incident.details
        assert isinstance(d, ConflictDetails)
        if incident.is_open:
            title = ":warning: " + _("Conflicting outcomes for {ref_id}").format(ref_id=d.ref_id)
            text = _(
                "Conflicting outcomes for {ref_id}: answers disagree on whether it succeeded; "
                "asking IAK."
            ).format(ref_id=d.ref_id)
        else:
            said = _(OUTCOME_COUNTED[d.iak.outcome] if d.iak else OUTCOME_COUNTED[d.stored])
            title = ":white_check_mark: " + _("Settled: {ref_id} is {outcome}").format(
                ref_id=d.ref_id, outcome=said
            )
            text = _("Settled: IAK's own check says {ref_id} is {outcome}.").format(
                ref_id=d.ref_id, outcome=said
            )
        lines = [member_line(d.ref_id, d.product_code, d.customer_id, view.mask)]
        for claim in d.claims:
            rc = f" (rc {claim.rc})" if claim.rc else ""
            lines.append(
                md(
                    "• " + _("{when}: {source} said {outcome}{rc}"),
                    when=wib_moment(claim.at),
                    source=_(SOURCE_PHRASES[claim.source]),
                    outcome=_(OUTCOME_COUNTED[claim.outcome]),
                    rc=rc,
                )
            )
        if d.iak is None:
            lines.append(
                md(
                    _("Stored: *{outcome}* (the first final answer). Asking IAK…"),
                    outcome=_(OUTCOME_COUNTED[d.stored]),
                )
            )
        else:
            lines.append(
                md(
                    _("IAK now says *{outcome}*: stored as that."),
                    outcome=_(OUTCOME_COUNTED[d.iak.outcome]),
                )
            )
        blocks: list[Block] = [header(truncate(title, 150)), section(join(lines))]
        if incident.is_open:
            blocks.append(
                context(
                    _(
                        "Do not refund or resend this yet. A callback's sign proves the ref_id, "
                        "not the outcome: IAK's own check decides, and it follows in this thread."
                    )
                )
            )
        return message(text, blocks)

    def reply(self, incident: Incident, reply: Reply, view: View) -> Message:
        if isinstance(reply, ConflictSettled):
            said = _(OUTCOME_COUNTED[reply.said])
            rc = f" (rc {reply.rc})" if reply.rc else ""
            if reply.said == reply.before:
                text = _("IAK's own check confirms {outcome}{rc}.").format(outcome=said, rc=rc)
            else:
                text = _(
                    "IAK's own check says {outcome}{rc}: the transaction is now stored as "
                    "{outcome} (it was {before})."
                ).format(outcome=said, rc=rc, before=_(OUTCOME_COUNTED[reply.before]))
            return message(text, [section(f":white_check_mark: {text}")])
        return super().reply(incident, reply, view)

    def title(self, incident: Incident, registry: Registry) -> str:
        d = incident.details
        assert isinstance(d, ConflictDetails)
        return _("Conflicting outcomes for {ref_id}").format(ref_id=d.ref_id)

    def changed_since_open(self, incident: Incident) -> str:
        return _("IAK's own check has not settled it since {opened}.").format(
            opened=wib_time(incident.opened_at)
        )


RENDERER = ConflictRenderer()
