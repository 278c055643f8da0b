"""How a failure spike looks: the window's count against the usual, its course, the card."""

from __future__ import annotations

from datetime import datetime

from bot.clock import wib_time
from bot.i18n import _
from bot.incidents.kinds.spike import SpikeDetails, SpikeUpdate
from bot.incidents.model import Incident, Reply, Resolved
from bot.registry import Registry
from bot.slack.alerts.common import Renderer, View, lasting
from bot.slack.blocks.cards import STOPS_SALES, remediation_blocks
from bot.slack.blocks.charts import sparkline
from bot.slack.blocks.durations import duration
from bot.slack.blocks.markup import join
from bot.slack.blocks.text import Block, Message, header, message, number, section, truncate


class SpikeRenderer(Renderer):
    """One rc failing far above its usual rate."""

    def parent(self, incident: Incident, now: datetime, view: View) -> Message:
        d = incident.details
        assert isinstance(d, SpikeDetails)
        # the key names the line too (`postpaid 06`): the card is that table's row
        rc = incident.key
        code = view.registry.rc(d.rc, line=d.line)
        name = f"{rc} {code.description}" if code else f"rc {rc}"
        window = lasting(d.window_seconds)
        if incident.is_open:
            if d.stops_sales:
                title = f"{STOPS_SALES} " + _("{name}: sales are failing").format(name=name)
            else:
                title = ":chart_with_upwards_trend: " + _(
                    "{name}: {count} failures in {window}"
                ).format(name=name, count=number(d.count), window=window)
            text = _(
                "{name}: {count} failures in the last {window} ({total} since it started)."
            ).format(name=name, count=number(d.count), window=window, total=number(d.total))
        else:
            lasted = duration((incident.resolved_at or now) - incident.opened_at)
            title = ":white_check_mark: " + _("Resolved: {name}").format(name=name)
            text = _("Resolved: {name}, lasted {lasted}, {total} failures in total.").format(
                name=name, lasted=lasted, total=number(d.total)
            )
        blocks: list[Block] = [header(truncate(title, 150))]
        factor = d.count / d.expected if d.expected else 0
        lines = [
            _("*{count}* failures in the last {window} · usual ≈ {expected} per {window}").format(
                count=number(d.count), window=window, expected=number(round(d.expected, 2))
            )
            + (f" (*{factor:.0f}×*)" if factor >= 2 else ""),
            _("*{total}* since {time} · peak {peak} per {window}").format(
                total=number(d.total),
                time=wib_time(incident.opened_at),
                peak=number(d.peak),
                window=window,
            ),
        ]
        if not incident.is_open:
            lasted = duration((incident.resolved_at or now) - incident.opened_at)
            lines.insert(
                0,
                _("Lasted *{lasted}*, *{total}* failures in total.").format(
                    lasted=lasted, total=number(d.total)
                ),
            )
        if d.products:
            shown = list(d.products.items())[:5]
            lines.append(
                _("Products: {products}").format(
                    products=", ".join(f"{p} ({number(n)})" for p, n in shown)
                )
            )
        if d.sparkline:
            lines.append(
                _("Last hour: {sparkline} (per 5 min)").format(
                    sparkline=f"`{sparkline(d.sparkline)}`"
                )
            )
        blocks.append(section(join(lines)))
        if code is not None and incident.is_open:
            blocks.extend(remediation_blocks(code))
        return message(text, blocks)

    def reply(self, incident: Incident, reply: Reply, view: View) -> Message:
        if isinstance(reply, SpikeUpdate):
            text = _(
                "{total} failures since this started (was {previous}); "
                "{count} in the last window, usual ≈ {expected}."
            ).format(
                total=number(reply.total),
                previous=number(reply.previous_total),
                count=number(reply.count),
                expected=number(round(reply.expected, 2)),
            )
            return message(text, [section(f":chart_with_upwards_trend: {text}")])
        return super().reply(incident, reply, view)

    def title(self, incident: Incident, registry: Registry) -> str:
        d = incident.details
        assert isinstance(d, SpikeDetails)
        code = registry.rc(incident.key)
        name = f"{incident.key} {code.description}" if code else f"rc {incident.key}"
        return _("{name}: {count} failures").format(name=name, count=number(d.total))

    def resolved(self, incident: Incident, reply: Resolved, lasted: str) -> str:
        return _(
            "Resolved after {lasted}: rc {rc} is back to normal; {total} failures in total."
        ).format(lasted=lasted, rc=incident.key, total=number(reply.total))

    def changed_since_open(self, incident: Incident) -> str:
        d = incident.details
        assert isinstance(d, SpikeDetails)
        return _(
            "{total} failures since it opened at {opened}; {count} in the last {window} "
            "(peak {peak})."
        ).format(
            total=d.total,
            opened=wib_time(incident.opened_at),
            count=d.count,
            window=lasting(d.window_seconds),
            peak=d.peak,
        )

    def mute_options(self, incident: Incident) -> list[tuple[str, str]]:
        label = _("Mute rc {rc} for 24 h, new incidents too").format(rc=incident.key)
        return [(label, "1440:all")]


RENDERER = SpikeRenderer()
