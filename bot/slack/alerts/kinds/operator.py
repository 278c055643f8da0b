"""How an operator in trouble looks: its success rate (or time to deliver) now and usually,
its worst products and codes, and what else of it IAK's price list sells."""

from __future__ import annotations

from datetime import datetime

from babel.numbers import format_decimal

from bot.clock import wib_moment, wib_time
from bot.i18n import _, babel_locale
from bot.incidents.kinds.operator import (
    DEFAULT_RATE,
    USUAL_MIN_FINAL,
    Measure,
    OperatorDetails,
)
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
from bot.slack.blocks.durations import duration
from bot.slack.blocks.text import Block, Message, header, message, number, section, truncate

RATE_EMOJI = ":chart_with_downwards_trend:"
SLOW_EMOJI = ":snail:"


class OperatorRenderer(Renderer):
    """One operator's success rate, or time to deliver, far off its usual."""

    emoji = RATE_EMOJI

    def parent(self, incident: Incident, now: datetime, view: View) -> Message:
        d = _details(incident)
        if d.measure is Measure.SLOW:
            title, text, lines = _slow(incident, d, now)
        else:
            title, text, lines = _rate(incident, d, now, view.registry)
        blocks: list[Block] = [header(truncate(title, 150)), section("\n".join(lines))]
        if incident.is_open:
            blocks.append(section(_alternatives(d)))
        return message(text, blocks)

    def title(self, incident: Incident, registry: Registry) -> str:
        d = _details(incident)
        if d.measure is Measure.SLOW:
            return _("{operator}: top-ups take {median} (usually {usual})").format(
                operator=d.operator,
                median=_seconds(d.median_seconds),
                usual=_seconds(d.usual_median_seconds),
            )
        return _("{operator}: {rate} success (usually {usual})").format(
            operator=d.operator, rate=_percent(d.rate), usual=_percent(d.usual_rate)
        )

    def resolved(self, incident: Incident, reply: Resolved, lasted: str) -> str:
        d = _details(incident)
        if d.measure is Measure.SLOW:
            return _(
                "Resolved after {lasted}: {operator} delivers in {median} again (usually {usual})."
            ).format(
                lasted=lasted,
                operator=d.operator,
                median=_seconds(d.median_seconds),
                usual=_seconds(d.usual_median_seconds),
            )
        return _(
            "Resolved after {lasted}: {operator}'s success rate is back to {rate} (usually "
            "{usual})."
        ).format(
            lasted=lasted, operator=d.operator, rate=_percent(d.rate), usual=_percent(d.usual_rate)
        )

    def changed_since_open(self, incident: Incident) -> str:
        d = _details(incident)
        if d.measure is Measure.SLOW:
            return _(
                "Median time to final {median} in the last {window} (longest {longest}) since "
                "it opened at {opened}."
            ).format(
                median=_seconds(d.median_seconds),
                window=lasting(d.window_seconds),
                longest=_seconds(d.longest_median_seconds),
                opened=wib_time(incident.opened_at),
            )
        return _(
            "{rate} success in the last {window} (lowest {lowest}) since it opened at {opened}."
        ).format(
            rate=_percent(d.rate),
            window=lasting(d.window_seconds),
            lowest=_percent(d.lowest_rate),
            opened=wib_time(incident.opened_at),
        )

    def mute_options(self, incident: Incident) -> list[tuple[str, str]]:
        d = _details(incident)
        if d.measure is Measure.SLOW:
            label = _("Mute slow {operator} for 24 h, new incidents too")
        else:
            label = _("Mute {operator} for 24 h, new incidents too")
        return [(truncate(label.format(operator=d.operator), 75), "1440:all")]


def _details(incident: Incident) -> OperatorDetails:
    d = incident.details
    assert isinstance(d, OperatorDetails)
    return d


def _rate(
    incident: Incident, d: OperatorDetails, now: datetime, registry: Registry
) -> tuple[str, str, list[str]]:
    window = lasting(d.window_seconds)
    rate, usual = _percent(d.rate), _percent(d.usual_rate)
    if incident.is_open:
        title = f"{RATE_EMOJI} " + _(
            "{operator}: {rate} success in the last {window} (usually {usual})"
        ).format(operator=d.operator, rate=rate, window=window, usual=usual)
        text = _(
            "{operator}: {failed} of {final} top-ups failed in the last {window}: {rate} "
            "success, usually {usual}."
        ).format(
            operator=d.operator,
            failed=number(d.failed),
            final=number(d.final),
            window=window,
            rate=rate,
            usual=usual,
        )
    else:
        lasted = duration((incident.resolved_at or now) - incident.opened_at)
        title = ":white_check_mark: " + _("Resolved: {operator}'s success rate").format(
            operator=d.operator
        )
        text = _("Resolved: {operator}, lasted {lasted}; lowest success rate {lowest}.").format(
            operator=d.operator, lasted=lasted, lowest=_percent(d.lowest_rate)
        )
    lines = [
        _(
            "*{rate}* success: *{failed}* of {final} final top-ups failed in the last {window} "
            "(failures caused by the customer's input not counted)"
        ).format(rate=rate, failed=number(d.failed), final=number(d.final), window=window),
        _usual_rate(d),
        _("Lowest *{lowest}* since {time}").format(
            lowest=_percent(d.lowest_rate), time=wib_time(incident.opened_at)
        ),
    ]
    if d.products:
        lines.append(
            _("Worst products: {products}").format(
                products=", ".join(
                    _("{product} ({failed} of {final} failed)").format(
                        product=p.code, failed=number(p.failed), final=number(p.final)
                    )
                    for p in d.products
                )
            )
        )
    if d.codes:
        lines.append(
            _("Codes: {codes}").format(
                codes=", ".join(
                    f"{code_name(rc, registry)} ({number(count)})" for rc, count in d.codes.items()
                )
            )
        )
    if not incident.is_open:
        lines.insert(0, text)
    return title, text, lines


def _slow(incident: Incident, d: OperatorDetails, now: datetime) -> tuple[str, str, list[str]]:
    window = lasting(d.window_seconds)
    median, usual = _seconds(d.median_seconds), _seconds(d.usual_median_seconds)
    if incident.is_open:
        title = f"{SLOW_EMOJI} " + _("{operator}: top-ups take {median} (usually {usual})").format(
            operator=d.operator, median=median, usual=usual
        )
        text = _(
            "{operator}: the median top-up took {median} to reach its outcome in the last "
            "{window}; usually {usual}."
        ).format(operator=d.operator, median=median, window=window, usual=usual)
    else:
        lasted = duration((incident.resolved_at or now) - incident.opened_at)
        title = ":white_check_mark: " + _("Resolved: {operator} delivers on time").format(
            operator=d.operator
        )
        text = _("Resolved: {operator}, lasted {lasted}; the longest median was {longest}.").format(
            operator=d.operator, lasted=lasted, longest=_seconds(d.longest_median_seconds)
        )
    factor = (
        d.median_seconds / d.usual_median_seconds
        if d.median_seconds is not None and d.usual_median_seconds
        else None
    )
    lines = [
        _(
            "Median time to final *{median}* over {final} top-ups in the last {window} · usually "
            "{usual} (its previous 7 days)"
        ).format(median=median, final=number(d.final), window=window, usual=usual)
        + (f" (*{factor:.0f}×*)" if factor is not None and factor >= 2 else ""),
        _("Longest median *{longest}* since {time}").format(
            longest=_seconds(d.longest_median_seconds), time=wib_time(incident.opened_at)
        ),
    ]
    if d.products:
        lines.append(
            _("Slowest products: {products}").format(
                products=", ".join(
                    _("{product} ({median}, {final} top-ups)").format(
                        product=p.code, median=_seconds(p.median_seconds), final=number(p.final)
                    )
                    for p in d.products
                )
            )
        )
    if not incident.is_open:
        lines.insert(0, text)
    return title, text, lines


def _usual_rate(d: OperatorDetails) -> str:
    if d.usual_is_default:
        return _(
            "Usually: too little history ({count} final top-ups in its previous 7 days, fewer "
            "than {needed}), so judged against {default}"
        ).format(
            count=number(d.usual_final),
            needed=number(USUAL_MIN_FINAL),
            default=_percent(DEFAULT_RATE),
        )
    return _("Usually *{usual}* (its previous 7 days, {count} final top-ups)").format(
        usual=_percent(d.usual_rate), count=number(d.usual_final)
    )


def _alternatives(d: OperatorDetails) -> str:
    """What the price list offers instead, or why it offers nothing."""
    if d.price_list_at is None:
        return price_list_not_cached()
    fetched = wib_moment(d.price_list_at)
    if not d.alternatives:
        return _(
            "No other active {operator} product of the same nominal in IAK's price list "
            "(fetched {fetched})."
        ).format(operator=d.operator, fetched=fetched)
    return _(
        "Active alternatives (other {operator} products of the same nominal in IAK's price "
        "list, fetched {fetched}): {offered}"
    ).format(operator=d.operator, fetched=fetched, offered=offered(d.alternatives))


def _percent(share: float | None) -> str:
    """`72 %` (`72,5 %` in Indonesian) for a share of 1; `—` when unknown."""
    if share is None:
        return "—"
    shown = format_decimal(round(share * 100, 1), "0.#", locale=babel_locale())
    return _("{share} %").format(share=shown)


def _seconds(seconds: float | None) -> str:
    """A median time to final, as ops say it (`45 s`, `8 min`); `—` when unknown."""
    if seconds is None:
        return "—"
    return lasting(seconds)


RENDERER = OperatorRenderer()
