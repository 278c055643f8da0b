"""The answer of `/iak find` (and `iak-bot find`): the stored transactions that match what a
customer quoted, newest first, each with a button that checks it at IAK now.

Customer numbers are masked, the one typed too: the list is screenshotted and pasted into
threads, and what was typed is usually a customer's phone number or token.
"""

from __future__ import annotations

from bot.clock import wib_moment
from bot.i18n import N_, _, ngettext
from bot.masking import mask_customer_id
from bot.slack.blocks.iak_answers import RecheckTarget
from bot.slack.blocks.markup import Mrkdwn, as_mrkdwn, cut, md
from bot.slack.blocks.outcomes import OUTCOME_EMOJI, OUTCOME_NAMES
from bot.slack.blocks.reports import LINE_NAMES
from bot.slack.blocks.text import (
    Block,
    Message,
    button,
    context,
    header,
    message,
    number,
    section,
)
from bot.store.states import TransactionState
from bot.store.transactions import Found

# A find's "Check at IAK": the status card is posted under the list, which stays.
CHECK_FOUND_ACTION = "check_found"
MAX_SHOWN_REF_ID = 120
MAX_SHOWN_PRODUCT = 60

FIND_FOOTNOTE = N_(
    "Matched by ref_id, tr_id, customer number (any spelling: 08…, 62…, +62…) or serial "
    "number (whole, or the last 8 or more digits of its token), among the transactions the "
    "bot has heard of."
)


def shown_query(typed: str, found: Found) -> str:
    """What was typed, as the answer repeats it: a listed transaction's own ref_id or tr_id
    as it is; anything else (a customer number, a token) masked."""
    typed = typed.strip()
    if any(typed in (state.ref_id, state.tr_id) for state in found.transactions):
        return typed
    return mask_customer_id(typed)


def find_results(typed: str, found: Found, *, checkable: bool = True) -> Message:
    """The transactions that matched, newest first; a Check button on each unless
    `checkable` is off (the terminal's list)."""
    query = shown_query(typed, found)
    blocks: list[Block] = [header(_("Transactions matching {query}").format(query=query))]
    shown = found.transactions
    if not shown:
        text = _(
            "No stored transaction matches {query}. The bot knows only the transactions it "
            "has heard of (IAK's callbacks, the backend's reports, checks)."
        ).format(query=query)
        blocks.append(section(text))
        blocks.append(context(_(FIND_FOOTNOTE)))
        return message(text, blocks)

    summary = _summary(found)
    blocks.append(section(md("*{}*", summary)))
    for state in shown:
        line = section(_line(state))
        if checkable:
            target = RecheckTarget(state.ref_id, state.line)
            line["accessory"] = button(_("Check at IAK"), CHECK_FOUND_ACTION, target.value)
        blocks.append(line)
    blocks.append(context(_(FIND_FOOTNOTE)))
    newest = shown[0]
    text = _("{summary} Newest: {ref_id}, {outcome}, {when}.").format(
        summary=summary,
        ref_id=newest.ref_id,
        outcome=_(OUTCOME_NAMES[newest.outcome]),
        when=wib_moment(newest.started_at, with_year=True),
    )
    return message(text, blocks)


def _summary(found: Found) -> str:
    count = len(found.transactions)
    if found.more_than_counted:
        return _("Newest {count} of more than {total} found.").format(
            count=number(count), total=number(found.counted_up_to)
        )
    if count < found.total:
        return _("Newest {count} of {total} found.").format(
            count=number(count), total=number(found.total)
        )
    return ngettext(
        "{count} transaction found, newest first.",
        "{count} transactions found, newest first.",
        count,
    ).format(count=number(count))


def _line(state: TransactionState) -> Mrkdwn:
    emoji, words = OUTCOME_EMOJI[state.outcome], OUTCOME_NAMES[state.outcome]
    product = (
        _code(state.product_code, MAX_SHOWN_PRODUCT) if state.product_code else _("product unknown")
    )
    rc = md("rc {}", _code(state.rc, 20)) if state.rc else _("no rc")
    return md(
        "{} *{}* · {} · {} · {} ({})\n{} · {}",
        emoji,
        _(words),
        _code(state.ref_id, MAX_SHOWN_REF_ID),
        product,
        _code(mask_customer_id(state.customer_id)),
        _(LINE_NAMES[state.line]),
        wib_moment(state.started_at, with_year=True),
        rc,
    )


def _code(text: str, limit: int = 100) -> Mrkdwn:
    """`text` as inline code; plain when a backtick in it would end the span."""
    shown = cut(as_mrkdwn(text), limit)
    return shown if "`" in text else md("`{}`", shown)
