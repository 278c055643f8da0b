"""How a serial number delivered twice looks: the deliveries, always masked."""

from __future__ import annotations

from datetime import datetime

from bot.clock import wib_moment
from bot.i18n import _
from bot.incidents.kinds.serial import SerialAgain, SerialDetails
from bot.incidents.model import Incident, Member, Reply, Resolved
from bot.masking import mask_serial
from bot.registry import Registry
from bot.slack.alerts.common import Renderer, View, member_line
from bot.slack.blocks.markup import Mrkdwn, join, md
from bot.slack.blocks.text import (
    Block,
    Message,
    context,
    header,
    message,
    number,
    section,
    truncate,
)


def _delivery_line(member: Member, mask: bool) -> Mrkdwn:
    line = member_line(member.ref_id, member.product_code, member.customer_id, mask)
    return md("{} · {}", line, wib_moment(member.started_at))


class SerialRenderer(Renderer):
    """One serial number delivered by more than one successful top-up."""

    def parent(self, incident: Incident, now: datetime, view: View) -> Message:
        d = incident.details
        assert isinstance(d, SerialDetails)
        # Always masked, as on the status card: a voucher code or PLN token is worth money to
        # whoever reads it, whatever MASK_CUSTOMER_ID says of customer numbers.
        serial = mask_serial(d.serial)
        if incident.is_open:
            title = _(":rotating_light: Serial number {serial} delivered {count} times").format(
                serial=serial, count=d.total
            )
            text = _(
                "The same serial number {serial} was delivered by {count} successful top-ups "
                "with different ref_ids: one voucher or token sold twice, or a supplier error."
            ).format(serial=serial, count=d.total)
        else:
            title = _(":white_check_mark: Resolved: serial number {serial}").format(serial=serial)
            text = _("Resolved: serial number {serial}, delivered by {count} top-ups.").format(
                serial=serial, count=d.total
            )
        lines = [_delivery_line(member, view.mask) for member in d.members]
        more = d.total - len(d.members)
        if more > 0:
            lines.append(md("_{}_", _("+{count} more").format(count=more)))
        blocks: list[Block] = [header(truncate(title, 150)), section(text), section(join(lines))]
        if incident.is_open:
            blocks.append(
                context(
                    _(
                        "Money is lost or a customer was cheated: check each with "
                        "`/iak status <ref_id>` and send IAK these ref_ids before refunding or "
                        "selling this product again."
                    )
                )
            )
        return message(text, blocks)

    def reply(self, incident: Incident, reply: Reply, view: View) -> Message:
        if isinstance(reply, SerialAgain):
            text = _(
                "Delivered again: {count} successful top-ups now have this serial number."
            ).format(count=reply.total)
            lines = [_delivery_line(member, view.mask) for member in reply.members]
            blocks: list[Block] = [section(f":rotating_light: {text}")]
            if lines:
                blocks.append(section(join(lines)))
            return message(text, blocks)
        return super().reply(incident, reply, view)

    def title(self, incident: Incident, registry: Registry) -> str:
        d = incident.details
        assert isinstance(d, SerialDetails)
        return _("Serial number {serial} delivered {count} times").format(
            serial=mask_serial(d.serial), count=number(d.total)
        )

    def resolved(self, incident: Incident, reply: Resolved, lasted: str) -> str:
        if reply.total is not None and reply.total < 2:
            return _(
                "Resolved after {lasted}: IAK's own checks leave one successful top-up with "
                "this serial number."
            ).format(lasted=lasted)
        return _(
            "Resolved after {lasted}: acknowledged, and no further top-up delivered this serial "
            "number for a day."
        ).format(lasted=lasted)


RENDERER = SerialRenderer()
