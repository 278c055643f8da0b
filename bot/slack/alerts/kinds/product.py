"""How a product out of service looks: its failures, the codes, and what to sell instead."""

from __future__ import annotations

from datetime import datetime

from bot.clock import wib_moment, wib_time
from bot.i18n import _
from bot.incidents.kinds.product import ProductOutageDetails
from bot.incidents.model import Incident, Resolved
from bot.registry import Registry
from bot.slack.alerts.common import (
    Renderer,
    View,
    code_name,
    lasting,
    offered,
    price_list_not_cached,
)
from bot.slack.blocks.cards import remediation_blocks
from bot.slack.blocks.charts import sparkline
from bot.slack.blocks.durations import duration
from bot.slack.blocks.text import Block, Message, header, message, number, section, truncate


class ProductRenderer(Renderer):
    """One product failing as out of service or unknown."""

    emoji = ":no_entry:"

    def parent(self, incident: Incident, now: datetime, view: View) -> Message:
        d = incident.details
        assert isinstance(d, ProductOutageDetails)
        registry = view.registry
        spike = d.spike
        product = d.product_code
        window = lasting(spike.window_seconds)
        codes = " · ".join(code_name(rc, registry) for rc in (d.rcs or {spike.rc: spike.count}))
        if incident.is_open:
            title = _(":no_entry: {product} cannot be sold: {count} failures in {window}").format(
                product=product, count=spike.count, window=window
            )
            text = _(
                "{product} cannot be sold: {count} failures in the last {window} "
                "({total} since it started)."
            ).format(product=product, count=spike.count, window=window, total=spike.total)
        else:
            lasted = duration((incident.resolved_at or now) - incident.opened_at)
            title = _(":white_check_mark: Resolved: {product} is selling again").format(
                product=product
            )
            text = _("Resolved: {product}, lasted {lasted}, {total} failures in total.").format(
                product=product, lasted=lasted, total=spike.total
            )
        lines = [
            codes,
            _("{count} failures in the last {window} · usual ≈ {expected} per {window}").format(
                count=spike.count, window=window, expected=f"{spike.expected:g}"
            ),
            _("{total} since {time} · peak {peak} per {window}").format(
                total=spike.total, time=wib_time(incident.opened_at), peak=spike.peak, window=window
            ),
        ]
        if spike.sparkline:
            lines.append(
                _("Last hour: {chart} (per 5 min)").format(chart=sparkline(spike.sparkline))
            )
        blocks: list[Block] = [
            header(truncate(title, 150)),
            section(text),
            section("\n".join(lines)),
        ]
        if incident.is_open:
            blocks.append(section(_alternatives(d)))
            code = registry.rc(spike.rc)
            if code is not None:
                blocks.extend(remediation_blocks(code))
        return message(text, blocks)

    def title(self, incident: Incident, registry: Registry) -> str:
        d = incident.details
        assert isinstance(d, ProductOutageDetails)
        return _("{product} cannot be sold: {total} failures").format(
            product=d.product_code, total=number(d.spike.total)
        )

    def resolved(self, incident: Incident, reply: Resolved, lasted: str) -> str:
        return _(
            "Resolved after {lasted}: {product} is selling again; {total} failures in total."
        ).format(lasted=lasted, product=incident.key, total=number(reply.total))

    def mute_options(self, incident: Incident) -> list[tuple[str, str]]:
        label = _("Mute {product} for 24 h, new incidents too").format(product=incident.key)
        return [(label, "1440:all")]


def _alternatives(d: ProductOutageDetails) -> str:
    """What the price list offers instead, or why it offers nothing."""
    if d.price_list_at is None:
        return price_list_not_cached()
    fetched = wib_moment(d.price_list_at)
    if d.operator is None or d.nominal is None:
        return _(
            "{product} is not in IAK's price list (fetched {fetched}): no alternative to offer."
        ).format(product=d.product_code, fetched=fetched)
    if not d.alternatives:
        return _(
            "No other active {operator} {nominal} product in IAK's price list (fetched {fetched})."
        ).format(operator=d.operator, nominal=d.nominal, fetched=fetched)
    return _(
        "Sell instead (active {operator} {nominal} in IAK's price list, fetched {fetched}): "
        "{offered}"
    ).format(
        operator=d.operator, nominal=d.nominal, fetched=fetched, offered=offered(d.alternatives)
    )


RENDERER = ProductRenderer()
