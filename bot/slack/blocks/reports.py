"""The answers of `/iak pending` and `/iak stats`: what the store knows, read for ops.

Customer numbers are always masked, as on the status card: these lists are screenshotted
and pasted into threads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from bot.i18n import _
from bot.masking import mask_customer_id
from bot.outcomes import Outcome
from bot.registry import Registry
from bot.slack.blocks.cards import STOPS_SALES
from bot.slack.blocks.charts import sparkline
from bot.slack.blocks.durations import duration
from bot.slack.blocks.markup import Mrkdwn, as_mrkdwn, cut, join, md
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
    section,
    truncate,
)
from bot.store.reports import PendingCursor, PendingPage, WindowStats
from bot.store.transactions import PendingTransaction

PENDING_NEXT_ACTION = "pending_next_page"
PENDING_PREVIOUS_ACTION = "pending_previous_page"
MAX_STATS_CODES = 8
MAX_ADVICE = 160
# Room for a whole ref_id (100 characters) and any product code IAK sells, escaped; only
# data full of `&<>` gets cut, and that cut keeps a full page under Slack's size limit.
MAX_SHOWN_REF_ID = 120
MAX_SHOWN_PRODUCT = 60
_SECTION_BUDGET = 2900

PENDING_ICONS = {
    Outcome.PENDING: ":hourglass_flowing_sand:",
    Outcome.UNKNOWN: ":grey_question:",
}
OUTCOME_LINES = (
    (Outcome.SUCCESS, ":white_check_mark: Success"),
    (Outcome.FAILED, ":x: Failed"),
    (Outcome.PENDING, ":hourglass_flowing_sand: Pending"),
    (Outcome.UNKNOWN, ":grey_question: Unknown"),
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_PENDING_FOOTNOTE = (
    ":hourglass_flowing_sand: IAK is still processing · :grey_question: IAK gave no usable "
    "answer: treat as pending · `/iak status <ref_id>` asks IAK now"
)


# How every report places a transaction in time (the monitor does the same).
_WHEN_FOOTNOTE = (
    "Each transaction counts when it happened: the backend's created_at when it sent one, "
    "else when the bot first heard of it."
)


def reading_message(what: str) -> Message:
    """The ack when the store is slow to answer: the list follows via response_url."""
    text = f"Reading {what}… the answer follows in a moment."
    return message(text, [section(text)])


def store_unavailable(what: str) -> Message:
    """The database did not answer: say so, and what still works."""
    text = (
        f"The bot's database did not answer, so I cannot show {what} right now. Try again in "
        "a minute; `/iak status <ref_id>` still asks IAK directly."
    )
    return message(text, [section(f":warning: {text}")])


def pending_card(page: PendingPage, *, now: datetime) -> Message:
    """One page of pending transactions, oldest first, with ages and page buttons."""
    blocks: list[Block] = [header("Pending transactions")]
    shown = page.transactions
    if not shown:
        text = "Nothing pending: every transaction the bot has seen has succeeded or failed."
        blocks.append(section(f":white_check_mark: {text}"))
        blocks.append(context(_PENDING_FOOTNOTE))
        return message(text, blocks)

    first, last = page.start + 1, page.start + len(shown)
    where = f"showing {first:,}–{last:,}" if page.has_previous or page.has_next else "all shown"
    blocks.append(
        section(
            f"*{page.total:,} pending*, oldest first ({where}). Ages count from when each "
            "happened: the backend's created_at when it sent one, else when the bot first "
            "heard of it."
        )
    )
    blocks.extend(_line_sections([_pending_line(item, now) for item in shown]))
    buttons: list[Block] = []
    if page.has_previous:
        cursor = PendingCursor.at(shown[0]).encode()
        buttons.append(button("Previous page", PENDING_PREVIOUS_ACTION, cursor))
    if page.has_next:
        cursor = PendingCursor.at(shown[-1]).encode()
        buttons.append(button("Next page", PENDING_NEXT_ACTION, cursor))
    if buttons:
        blocks.append(actions(*buttons, block_id="pending_pages"))
    blocks.append(context(_PENDING_FOOTNOTE))
    oldest = shown[0]
    plural = "s" if page.total != 1 else ""
    text = (
        f"{page.total:,} pending transaction{plural} ({where}), oldest first. "
        f"{oldest.ref_id} has waited {duration(now - oldest.started_at)}."
    )
    return message(text, blocks)


def _pending_line(item: PendingTransaction, now: datetime) -> Mrkdwn:
    rc = md("rc {}", _code(item.rc)) if item.rc else "no rc"
    product = (
        _escaped(item.product_code, MAX_SHOWN_PRODUCT) if item.product_code else "product unknown"
    )
    return md(
        "{} *{}* · {} · {} · {} · {}",
        PENDING_ICONS.get(item.outcome, ""),
        duration(now - item.started_at),
        _code(item.ref_id, MAX_SHOWN_REF_ID),
        product,
        _code(mask_customer_id(item.customer_id)),
        rc,
    )


def stats_card(stats: WindowStats, registry: Registry, *, label: str) -> Message:
    """Outcomes in a window, the top failure codes with a sparkline each and what to do."""
    blocks: list[Block] = [header(f"IAK transactions, last {label}")]
    total = stats.transactions
    if total:
        blocks.append(
            section(
                f"*{total:,}* transaction{'s' if total != 1 else ''} in the last "
                f"{label}, by outcome now:"
            )
        )
        blocks.append(
            fields(
                *(
                    f"{name}\n*{stats.outcomes.get(outcome, 0):,}* "
                    f"({_percent(stats.outcomes.get(outcome, 0), total)})"
                    for outcome, name in OUTCOME_LINES
                )
            )
        )
    else:
        blocks.append(section(f"No transactions in the last {label}."))

    blocks.append(divider())
    failures = stats.failure_count
    top = stats.top_failures()
    if not failures:
        blocks.append(section(f":white_check_mark: No failures in the last {label}."))
    else:
        blocks.append(
            section(
                f"*Top failure codes* · {failures:,} failure{'s' if failures != 1 else ''} "
                f"in the last {label}"
            )
        )
        for rc, count in top[:MAX_STATS_CODES]:
            blocks.append(
                section(_failure_lines(rc, count, failures, stats.failures[rc], registry))
            )
        rest = top[MAX_STATS_CODES:]
        if rest:
            others = sum(count for _rc, count in rest)
            blocks.append(
                context(
                    md(
                        "+{} other code{}: {} failure{} · {}",
                        len(rest),
                        "s" if len(rest) != 1 else "",
                        f"{others:,}",
                        "s" if others != 1 else "",
                        join((_code(rc) if rc else "no rc" for rc, _count in rest[:20]), ", "),
                    )
                )
            )
        window = stats.window
        blocks.append(
            context(
                f"Sparklines: {window.count} buckets of {duration(window.width)}, oldest on the "
                "left, each scaled to its own busiest bucket · `/iak code <rc>` for the full card"
            )
        )
    for window_name, count in stats.expected.items():
        blocks.append(context(_expected_note(window_name, count)))
    blocks.append(context(_WHEN_FOOTNOTE))
    return message(_stats_text(stats, top, label), blocks)


def _expected_note(window_name: str, count: int) -> str:
    """Failures a known window expects, counted apart from the codes above."""
    return _(
        "+{count} failed {window}: IAK's scheduled window, expected and not counted above."
    ).format(count=f"{count:,}", window=_(window_name))


def _failure_lines(
    rc: str | None, count: int, failures: int, buckets: Sequence[int], registry: Registry
) -> Mrkdwn:
    code = registry.rc(rc) if rc else None
    if code is not None:
        stops = f" {STOPS_SALES}" if code.stops_sales else ""
        title = md("*{}*{}", code.title, stops)
        remedy = md("_{}_: {}", code.action.label, short_advice(code.advice))
    elif rc:
        title = md("*{}* · not in IAK's published table", _code(rc))
        remedy = md(
            "_Contact IAK_: ask what rc {} means; treat these as failed meanwhile.", _code(rc)
        )
    else:
        title = md("*No rc* · IAK said failed without a response code")
        remedy = md("_Check one_: `/iak status <ref_id>` shows what IAK says about it now.")
    share = _percent(count, failures)
    return md(
        "{} — *{:,}* ({} of failures)\n`{}`\n{}", title, count, share, sparkline(buckets), remedy
    )


def short_advice(advice: str, limit: int = MAX_ADVICE) -> str:
    """The first sentence of a code's advice, cut to `limit`: one line on a busy card."""
    return truncate(_SENTENCE_END.split(advice, maxsplit=1)[0], limit)


def _stats_text(stats: WindowStats, top: list[tuple[str | None, int]], label: str) -> str:
    counts = ", ".join(
        f"{stats.outcomes.get(outcome, 0):,} {outcome.value}" for outcome, _name in OUTCOME_LINES
    )
    text = f"Last {label}: {stats.transactions:,} transactions ({counts})."
    if top:
        rc, count = top[0]
        text += f" Top failure: {'rc ' + rc if rc else 'no rc'} ({count:,})."
    return text


def _percent(part: int, whole: int) -> str:
    if whole <= 0:
        return "0 %"
    share = part / whole * 100
    if part and share < 0.1:
        return "< 0.1 %"
    return f"{share:.0f} %" if share >= 10 or share == 0 else f"{share:.1f} %"


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
