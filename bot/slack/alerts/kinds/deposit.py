"""How a low deposit looks: the balance, the spend rate, how to top it up."""

from __future__ import annotations

from datetime import datetime

from bot.clock import wib_time
from bot.i18n import _
from bot.incidents.kinds.deposit import DepositDetails, DepositUpdate
from bot.incidents.model import Incident, Reply, Resolved
from bot.registry import Registry
from bot.slack.alerts.common import Renderer, View, lasting
from bot.slack.blocks.markup import join, link, md
from bot.slack.blocks.text import Block, Message, header, message, rupiah, section


class DepositRenderer(Renderer):
    """The IAK deposit below the threshold."""

    emoji = ":moneybag:"

    def parent(self, incident: Incident, now: datetime, view: View) -> Message:
        d = incident.details
        assert isinstance(d, DepositDetails)
        if incident.is_open:
            title = ":moneybag: " + _("IAK deposit low: {balance}").format(
                balance=rupiah(d.balance)
            )
            text = _("IAK deposit low: {balance}, below {threshold}.").format(
                balance=rupiah(d.balance), threshold=rupiah(d.threshold)
            )
        else:
            title = ":white_check_mark: " + _("Resolved: IAK deposit back to {balance}").format(
                balance=rupiah(d.balance)
            )
            text = _("Resolved: IAK deposit back to {balance}.").format(balance=rupiah(d.balance))
        lines = [
            _("Balance *{balance}* · threshold {threshold} · lowest {lowest}").format(
                balance=rupiah(d.balance), threshold=rupiah(d.threshold), lowest=rupiah(d.lowest)
            )
        ]
        if d.spend_per_hour:
            left = d.hours_left
            spend = rupiah(round(d.spend_per_hour))
            if left is not None:
                lines.append(
                    _(
                        "Spending {spend} per hour over the last hour, about *{left}* left at "
                        "that rate."
                    ).format(spend=spend, left=lasting(left * 3600))
                )
            else:
                lines.append(_("Spending {spend} per hour over the last hour.").format(spend=spend))
        else:
            lines.append(_("Not enough sales in the last hour to estimate the spend rate."))
        blocks: list[Block] = [header(title), section(join(lines))]
        deposit = view.registry.rc("17")
        if incident.is_open and deposit is not None:
            links = join((link(page.url, page.title) for page in deposit.links), " · ")
            blocks.append(
                section(
                    md(
                        _(
                            "When it runs out every sale fails with rc 17 (INSUFFICIENT "
                            "DEPOSIT). Top it up: {links}"
                        ),
                        links=links,
                    )
                )
            )
        return message(text, blocks)

    def reply(self, incident: Incident, reply: Reply, view: View) -> Message:
        if isinstance(reply, DepositUpdate):
            left = reply.hours_left
            now_was = {"balance": rupiah(reply.balance), "previous": rupiah(reply.previous)}
            if left is not None:
                text = _("Deposit now {balance} (was {previous}), about {left} left.").format(
                    left=lasting(left * 3600), **now_was
                )
            else:
                text = _("Deposit now {balance} (was {previous}).").format(**now_was)
            return message(text, [section(f":moneybag: {text}")])
        return super().reply(incident, reply, view)

    def title(self, incident: Incident, registry: Registry) -> str:
        d = incident.details
        assert isinstance(d, DepositDetails)
        return _("IAK deposit low: {balance}").format(balance=rupiah(d.balance))

    def resolved(self, incident: Incident, reply: Resolved, lasted: str) -> str:
        return _("Resolved after {lasted}: the deposit is back to {balance}.").format(
            lasted=lasted, balance=rupiah(reply.balance)
        )

    def changed_since_open(self, incident: Incident) -> str:
        d = incident.details
        assert isinstance(d, DepositDetails)
        return _(
            "The deposit is {balance} now (lowest {lowest} since {opened}), below {threshold}."
        ).format(
            balance=rupiah(d.balance),
            lowest=rupiah(d.lowest),
            opened=wib_time(incident.opened_at),
            threshold=rupiah(d.threshold),
        )


RENDERER = DepositRenderer()
