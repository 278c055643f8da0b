"""The daily digest: how yesterday went, as one message in the ops channel (and the terminal).

Pure: the day's figures (`DigestDetails`) and the registry in, Block Kit out. Its chart, a
picture of the same hours, is drawn by `bot.slack.chart` and goes into the thread.
"""

from __future__ import annotations

from datetime import timedelta

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from bot.clock import wib_moment
from bot.i18n import _, babel_locale, ngettext
from bot.incidents.kinds.digest import DigestDetails, ProductFailures
from bot.outcomes import split_code_key
from bot.registry import Registry
from bot.slack.blocks.cards import STOPS_SALES
from bot.slack.blocks.charts import sparkline
from bot.slack.blocks.durations import duration
from bot.slack.blocks.markup import Mrkdwn, join, md
from bot.slack.blocks.outcomes import OUTCOME_LINES
from bot.slack.blocks.reports import short_advice
from bot.slack.blocks.text import (
    Block,
    Message,
    context,
    divider,
    fields,
    header,
    message,
    number,
    rupiah,
    section,
)


def day_label(details: DigestDetails) -> str:
    """`Thu 3 Dec 2026` (`Kam 3 Des 2026`): the WIB day the digest is about, in the language."""
    return format_date(details.day, "EEE d MMM y", locale=babel_locale())


def digest_title(details: DigestDetails) -> str:
    """`Daily digest · Thu 3 Dec 2026`."""
    return _("Daily digest · {day}").format(day=day_label(details))


def digest_message(details: DigestDetails, registry: Registry, *, chart: bool = True) -> Message:
    """The digest of one WIB day: outcomes against the week, failure codes and what to do,
    the worst products, what is still pending, the deposit, and the incidents; `chart`
    when its chart follows in the thread."""
    label = day_label(details)
    blocks: list[Block] = [header(digest_title(details))]
    blocks.extend(_outcome_blocks(details))
    blocks.append(divider())
    blocks.append(section(_failure_text(details, registry)))
    if details.worst_products:
        blocks.append(section(_products_text(details)))
    blocks.append(divider())
    blocks.append(section(_pending_text(details)))
    blocks.append(section(_deposit_text(details)))
    blocks.append(section(_incidents_text(details)))
    gathered = wib_moment(details.gathered_at)
    note = _(
        "The day in WIB. Each transaction counts when it happened; outcomes, pending and "
        "the balance are as of {moment}."
    ).format(moment=gathered)
    if chart:
        note += " " + _("The chart is in the thread.")
    blocks.append(context(note))
    return message(_summary(details, label), blocks)


def chart_title(details: DigestDetails) -> str:
    """What the chart shows, as its title and alt text."""
    return _("Transactions and failures per hour (WIB), {day}").format(day=day_label(details))


def chart_note(details: DigestDetails) -> Message:
    """The thread reply that stands for the chart (its text goes with the upload)."""
    return message(chart_title(details), [section(f":bar_chart: {chart_title(details)}")])


def _summary(details: DigestDetails, label: str) -> str:
    rate = details.success_rate
    if not details.transactions:
        return _("Daily digest for {day}: no transactions.").format(day=label)
    return ngettext(
        "Daily digest for {day}: {count} transaction, {rate} succeeded.",
        "Daily digest for {day}: {count} transactions, {rate} succeeded.",
        details.transactions,
    ).format(day=label, count=number(details.transactions), rate=_share(rate))


def _outcome_blocks(details: DigestDetails) -> list[Block]:
    total = details.transactions
    if not total:
        return [section(_("No transactions that day."))]
    rate, week = details.success_rate, details.week_success_rate
    headline = ngettext(
        "*{count}* transaction · success rate *{rate}*",
        "*{count}* transactions · success rate *{rate}*",
        total,
    ).format(count=number(total), rate=_share(rate))
    if week is not None:
        headline += " " + _("(7-day average {week}{change})").format(
            week=_share(week), change=_change(rate, week)
        )
    cells = [
        f"{icon} {_(name)}\n*{number(details.outcomes.get(outcome.value, 0))}*"
        for outcome, icon, name in OUTCOME_LINES
    ]
    hours = _(
        "*Per hour*, 00 to 24 WIB\n`{transactions}` transactions\n`{failures}` failures"
    ).format(
        transactions=sparkline(details.hourly_transactions),
        failures=sparkline(details.hourly_failures),
    )
    return [section(headline), fields(*cells), section(hours)]


def _failure_text(details: DigestDetails, registry: Registry) -> Mrkdwn | str:
    failures = details.failures
    if not failures:
        return ":white_check_mark: " + _("No failures that day.")
    lines: list[str] = [
        ngettext(
            "*Top failure codes* · {count} failure",
            "*Top failure codes* · {count} failures",
            failures,
        ).format(count=number(failures))
    ]
    lines.extend(failure_code_line(code.rc, code.count, registry) for code in details.failure_codes)
    if details.other_failures:
        lines.append(
            _("_+{count} failures of other codes_").format(count=number(details.other_failures))
        )
    return join(lines)


def failure_code_line(code_key: str | None, failures: int, registry: Registry) -> Mrkdwn:
    """`• 14 · INCORRECT DESTINATION NUMBER — 8 · Fix the input: …`: a code's failures and
    what to do (the digest's and the handover's lists)."""
    known = None
    if code_key:
        line, rc = split_code_key(code_key)
        known = registry.rc(rc, line=line)
    count = number(failures)
    if known is not None:
        stops = f" {STOPS_SALES}" if known.stops_sales else ""
        # IAK's own words (its description and solution) are shown as IAK wrote them.
        return md(
            "• *{}*{} — *{}* · _{}_: {}",
            known.title,
            stops,
            count,
            known.action.label,
            short_advice(known.translated_advice),
        )
    if code_key:
        return md(
            "• *rc {}* — *{}* · {}", code_key, count, _("not in IAK's table: ask IAK what it means")
        )
    return md("• *{}* — *{}* · {}", _("No rc"), count, _("IAK said failed without a code"))


def _products_text(details: DigestDetails) -> Mrkdwn:
    lines: list[str] = [
        _("*Worst products* (at least {count} transactions)").format(
            count=details.min_product_volume
        )
    ]
    lines.extend(_product_line(product) for product in details.worst_products)
    return join(lines)


def _product_line(product: ProductFailures) -> Mrkdwn:
    failed = _("{failures} of {transactions} failed ({rate})").format(
        failures=number(product.failures),
        transactions=number(product.transactions),
        rate=_share(product.rate),
    )
    return md("• `{}` — {}", product.product_code, failed)


def _pending_text(details: DigestDetails) -> str:
    title = _("*Still pending*")
    if not details.pending_now:
        return f"{title}\n:white_check_mark: " + _("Nothing pending now.")
    line = ngettext(
        "{count} of that day's transactions is still not final",
        "{count} of that day's transactions are still not final",
        details.pending_from_day,
    ).format(count=number(details.pending_from_day))
    line += "; " + ngettext(
        "{count} pending in all", "{count} pending in all", details.pending_now
    ).format(count=number(details.pending_now))
    if details.oldest_pending_at is not None:
        waited = duration(details.gathered_at - details.oldest_pending_at)
        line += ", " + _("the oldest waiting {age}").format(age=waited)
    return f"{title}\n:hourglass_flowing_sand: {line}. " + _("`/iak pending` lists them.")


def _deposit_text(details: DigestDetails) -> str:
    title = _("*Deposit*")
    spent = _("Spent {amount} on that day's successful sales").format(amount=rupiah(details.spent))
    if details.balance is None or details.balance_at is None:
        return f"{title}\n:moneybag: {spent}. " + _("No balance reported by IAK yet.")
    reported = wib_moment(details.balance_at)
    balance = _("balance {amount} (reported {moment})").format(
        amount=rupiah(details.balance), moment=reported
    )
    days = details.days_left
    if days is None:
        lasts = ""
    else:
        lasts = " · " + _("lasts about {time} at that rate").format(
            time=duration(timedelta(days=days)) if days < 60 else _("2 months or more")
        )
    return f"{title}\n:moneybag: {spent} · {balance}{lasts}"


def _incidents_text(details: DigestDetails) -> str:
    title = _("*Incidents*")
    opened = ngettext("{count} opened", "{count} opened", details.incidents_opened).format(
        count=details.incidents_opened
    )
    resolved = ngettext("{count} resolved", "{count} resolved", details.incidents_resolved).format(
        count=details.incidents_resolved
    )
    line = f"{opened} · {resolved}"
    if details.median_ack_seconds is not None:
        line += " · " + _(
            "median time to acknowledge {time} ({acknowledged} of {opened} acknowledged)"
        ).format(
            time=duration(timedelta(seconds=details.median_ack_seconds)),
            acknowledged=details.acknowledged,
            opened=details.incidents_opened,
        )
    elif details.incidents_opened:
        line += " · " + _("none acknowledged")
    return f"{title}\n:rotating_light: {line}"


def _share(rate: float | None) -> str:
    """`97.5%` (`97,5%`): a share with one decimal, in the language."""
    if rate is None:
        return "—"
    return format_percent(rate, "#,##0.0%", locale=babel_locale())


def _change(rate: float | None, week: float) -> str:
    if rate is None:
        return ""
    points = (rate - week) * 100
    if abs(points) < 0.05:
        return ""
    arrow = "▲" if points > 0 else "▼"
    change = format_decimal(abs(points), "#,##0.0", locale=babel_locale())
    return f", {arrow} {change} " + _("pts")
