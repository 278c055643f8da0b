"""The answers of `/iak pending` and `/iak stats`: what the store knows, read for ops.

Customer numbers are always masked, as on the status card: these lists are screenshotted
and pasted into threads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from babel.numbers import format_decimal

from bot.i18n import N_, _, babel_locale, ngettext
from bot.masking import mask_customer_id
from bot.outcomes import Line, split_code_key
from bot.registry import Registry
from bot.slack.blocks.cards import STOPS_SALES
from bot.slack.blocks.charts import sparkline
from bot.slack.blocks.durations import duration
from bot.slack.blocks.markup import Mrkdwn, as_mrkdwn, cut, join, md
from bot.slack.blocks.outcomes import OUTCOME_COUNTED, OUTCOME_EMOJI, OUTCOME_LINES
from bot.slack.blocks.text import (
    Block,
    Message,
    actions,
    button,
    context,
    divider,
    fields,
    header,
    message,
    number,
    section,
    truncate,
)
from bot.store.reports import PendingCursor, PendingPage, WindowStats
from bot.store.transactions import PendingTransaction

# Which line a row or a failure code is on: the same rc means something else on the other.
LINE_NAMES = {Line.PREPAID: N_("prepaid"), Line.POSTPAID: N_("postpaid")}
PENDING_NEXT_ACTION = "pending_next_page"
PENDING_PREVIOUS_ACTION = "pending_previous_page"
MAX_STATS_CODES = 8
MAX_ADVICE = 160
# Room for a whole ref_id (100 characters) and any product code IAK sells, escaped; only
# data full of `&<>` gets cut, and that cut keeps a full page under Slack's size limit.
MAX_SHOWN_REF_ID = 120
MAX_SHOWN_PRODUCT = 60
_SECTION_BUDGET = 2900

_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_PENDING_FOOTNOTE = N_(
    ":hourglass_flowing_sand: IAK is still processing · :grey_question: IAK gave no usable "
    "answer: treat as pending · `/iak status <ref_id>` asks IAK now"
)


# How every report places a transaction in time (the monitor does the same).
_WHEN_FOOTNOTE = N_(
    "Each transaction counts when it happened: the backend's created_at when it sent one, "
    "else when the bot first heard of it."
)


def reading_message(what: str) -> Message:
    """The ack when the store is slow to answer: the list follows via response_url."""
    text = _("Reading {what}… the answer follows in a moment.").format(what=_(what))
    return message(text, [section(text)])


def store_unavailable(what: str) -> Message:
    """The database did not answer: say so, and what still works."""
    text = _(
        "The bot's database did not answer, so I cannot show {what} right now. Try again in "
        "a minute; `/iak status <ref_id>` still asks IAK directly."
    ).format(what=_(what))
    return message(text, [section(f":warning: {text}")])


def pending_card(page: PendingPage, *, now: datetime) -> Message:
    """One page of pending transactions, oldest first, with ages and page buttons."""
    blocks: list[Block] = [header(_("Pending transactions"))]
    shown = page.transactions
    if not shown:
        text = _("Nothing pending: every transaction the bot has seen has succeeded or failed.")
        blocks.append(section(f":white_check_mark: {text}"))
        blocks.append(context(_(_PENDING_FOOTNOTE)))
        return message(text, blocks)

    first, last = page.start + 1, page.start + len(shown)
    if page.has_previous or page.has_next:
        where = _("showing {first}–{last}").format(first=number(first), last=number(last))
    else:
        where = _("all shown")
    blocks.append(
        section(
            _(
                "*{count} pending*, oldest first ({where}). Ages count from when each "
                "happened: the backend's created_at when it sent one, else when the bot first "
                "heard of it."
            ).format(count=number(page.total), where=where)
        )
    )
    blocks.extend(_line_sections([_pending_line(item, now) for item in shown]))
    buttons: list[Block] = []
    if page.has_previous:
        cursor = PendingCursor.at(shown[0]).encode()
        buttons.append(button(_("Previous page"), PENDING_PREVIOUS_ACTION, cursor))
    if page.has_next:
        cursor = PendingCursor.at(shown[-1]).encode()
        buttons.append(button(_("Next page"), PENDING_NEXT_ACTION, cursor))
    if buttons:
        blocks.append(actions(*buttons, block_id="pending_pages"))
    blocks.append(context(_(_PENDING_FOOTNOTE)))
    oldest = shown[0]
    text = ngettext(
        "{count} pending transaction ({where}), oldest first. {ref_id} has waited {waited}.",
        "{count} pending transactions ({where}), oldest first. {ref_id} has waited {waited}.",
        page.total,
    ).format(
        count=number(page.total),
        where=where,
        ref_id=oldest.ref_id,
        waited=duration(now - oldest.started_at),
    )
    return message(text, blocks)


def _pending_line(item: PendingTransaction, now: datetime) -> Mrkdwn:
    rc = md("rc {}", _code(item.rc)) if item.rc else _("no rc")
    product = (
        _escaped(item.product_code, MAX_SHOWN_PRODUCT)
        if item.product_code
        else _("product unknown")
    )
    return md(
        "{} *{}* · {} · {} · {} · {} ({})",
        OUTCOME_EMOJI[item.outcome],
        duration(now - item.started_at),
        _code(item.ref_id, MAX_SHOWN_REF_ID),
        product,
        _code(mask_customer_id(item.customer_id)),
        rc,
        _(LINE_NAMES[item.line]),
    )


def stats_card(stats: WindowStats, registry: Registry, *, label: str) -> Message:
    """Outcomes in a window, the top failure codes with a sparkline each and what to do."""
    label = _window_words(label)
    blocks: list[Block] = [header(_("IAK transactions, last {window}").format(window=label))]
    total = stats.transactions
    if total:
        blocks.append(
            section(
                ngettext(
                    "*{count}* transaction in the last {window}, by outcome now:",
                    "*{count}* transactions in the last {window}, by outcome now:",
                    total,
                ).format(count=number(total), window=label)
            )
        )
        blocks.append(
            fields(
                *(
                    f"{emoji} {_(name)}\n*{number(stats.outcomes.get(outcome, 0))}* "
                    f"({_percent(stats.outcomes.get(outcome, 0), total)})"
                    for outcome, emoji, name in OUTCOME_LINES
                )
            )
        )
    else:
        blocks.append(section(_("No transactions in the last {window}.").format(window=label)))

    blocks.append(divider())
    failures = stats.failure_count
    top = stats.top_failures()
    if not failures:
        blocks.append(
            section(
                ":white_check_mark: " + _("No failures in the last {window}.").format(window=label)
            )
        )
    else:
        blocks.append(
            section(
                "*"
                + _("Top failure codes")
                + "* · "
                + ngettext(
                    "{count} failure in the last {window}",
                    "{count} failures in the last {window}",
                    failures,
                ).format(count=number(failures), window=label)
            )
        )
        for rc, count in top[:MAX_STATS_CODES]:
            blocks.append(
                section(_failure_lines(rc, count, failures, stats.failures[rc], registry))
            )
        rest = top[MAX_STATS_CODES:]
        if rest:
            others = sum(count for __, count in rest)
            blocks.append(
                context(
                    md(
                        "{}: {} · {}",
                        ngettext("+{count} other code", "+{count} other codes", len(rest)).format(
                            count=len(rest)
                        ),
                        ngettext("{count} failure", "{count} failures", others).format(
                            count=number(others)
                        ),
                        join((_code(rc) if rc else _("no rc") for rc, __ in rest[:20]), ", "),
                    )
                )
            )
        window = stats.window
        blocks.append(
            context(
                _(
                    "Sparklines: {count} buckets of {width}, oldest on the left, each scaled to "
                    "its own busiest bucket · `/iak code <rc>` for the full card"
                ).format(count=window.count, width=duration(window.width))
            )
        )
    for window_name, count in stats.expected.items():
        blocks.append(context(_expected_note(window_name, count)))
    blocks.append(context(_(_WHEN_FOOTNOTE)))
    return message(_stats_text(stats, top, label), blocks)


def _expected_note(window_name: str, count: int) -> str:
    """Failures a known window expects, counted apart from the codes above."""
    return _(
        "+{count} failed {window}: IAK's scheduled window, expected and not counted above."
    ).format(count=number(count), window=_(window_name))


def _failure_lines(
    key: str | None, count: int, failures: int, buckets: Sequence[int], registry: Registry
) -> Mrkdwn:
    line, rc = split_code_key(key) if key else (Line.PREPAID, None)
    code = registry.rc(rc, line=line) if rc else None
    if code is not None:
        stops = f" {STOPS_SALES}" if code.stops_sales else ""
        title = md("*{}* ({}){}", code.title, _(LINE_NAMES[line]), stops)
        remedy = md("_{}_: {}", code.action.label, short_advice(code.translated_advice))
    elif rc:
        title = md("*{}* · {}", _code(rc), _("not in IAK's published table"))
        remedy = md(
            "_{}_: {}",
            _("Contact IAK"),
            md(_("ask what rc {rc} means; treat these as failed meanwhile."), rc=_code(rc)),
        )
    else:
        title = md("*{}* · {}", _("No rc"), _("IAK said failed without a response code"))
        remedy = md(
            "_{}_: {}",
            _("Check one"),
            _("`/iak status <ref_id>` shows what IAK says about it now."),
        )
    share = _("{share} of failures").format(share=_percent(count, failures))
    return md("{} — *{}* ({})\n`{}`\n{}", title, number(count), share, sparkline(buckets), remedy)


def short_advice(advice: str, limit: int = MAX_ADVICE) -> str:
    """The first sentence of a code's advice, cut to `limit`: one line on a busy card."""
    return truncate(_SENTENCE_END.split(advice, maxsplit=1)[0], limit)


def _stats_text(stats: WindowStats, top: list[tuple[str | None, int]], label: str) -> str:
    counts = ", ".join(
        f"{number(stats.outcomes.get(outcome, 0))} {_(OUTCOME_COUNTED[outcome])}"
        for outcome, __, ___ in OUTCOME_LINES
    )
    text = _("Last {window}: {count} transactions ({counts}).").format(
        window=_window_words(label), count=number(stats.transactions), counts=counts
    )
    if top:
        rc, count = top[0]
        text += " " + _("Top failure: {code} ({count}).").format(
            code="rc " + rc if rc else _("no rc"), count=number(count)
        )
    return text


def _window_words(label: str) -> str:
    """A window's label (`1h`, `24h`, `7d`) as the reader says it (`24 h`, `24 jam`)."""
    amount, unit = label[:-1], label[-1:]
    if amount.isdigit() and unit == "h":
        # TRANSLATORS: a report's window, as in "the last 24h".
        return _("{hours}h").format(hours=amount)
    if amount.isdigit() and unit == "d":
        # TRANSLATORS: a report's window, as in "the last 7d".
        return _("{days}d").format(days=amount)
    return label


def _percent(part: int, whole: int) -> str:
    if whole <= 0:
        return _("{share} %").format(share=0)
    share = part / whole * 100
    if part and share < 0.1:
        return "< " + _("{share} %").format(share=number(0.1))
    pattern = "0" if share >= 10 or share == 0 else "0.0"
    shown = format_decimal(round(share, 0 if pattern == "0" else 1), pattern, locale=babel_locale())
    return _("{share} %").format(share=shown)


def _code(text: str, limit: int = 100) -> Mrkdwn:
    """`text` as inline code; plain when a backtick in it would end the span."""
    shown = _escaped(text, limit)
    return shown if "`" in text else md("`{}`", shown)


def _escaped(text: str, limit: int) -> Mrkdwn:
    """`text` as mrkdwn in at most `limit` characters (escapes counted), marked with an
    ellipsis when cut."""
    return cut(as_mrkdwn(text), limit)


def _line_sections(lines: Sequence[Mrkdwn]) -> list[Block]:
    """Lines in as few sections as the 3,000-character limit allows."""
    out: list[Block] = []
    current: list[Mrkdwn] = []
    size = 0
    for line in lines:
        if current and size + 1 + len(line) > _SECTION_BUDGET:
            out.append(section(join(current)))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        out.append(section(join(current)))
    return out
