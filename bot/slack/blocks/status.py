"""The live status card of a top-up (`/iak status`) with its history, and `check_card`, which
renders any check (the postpaid card is in bills.py, the deposit card in balance.py, what
they share about IAK's answer in iak_answers.py).

Customer numbers are always masked here, even in ephemeral answers: a card can be
screenshotted or shared, and ops recognise a number by its ends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from bot.checks import Checked
from bot.i18n import _, ngettext
from bot.iak.client import (
    IakEndpoint,
    PostpaidCheck,
    StatusCheck,
)
from bot.iak.models import (
    TransactionData,
)
from bot.masking import mask_customer_id, mask_serial
from bot.outcomes import Outcome
from bot.registry import Line, Registry, ResponseCode, SeenAs
from bot.slack.blocks.bills import postpaid_status_card
from bot.slack.blocks.iak_answers import (
    RecheckTarget,
    action_line,
    asked,
    badge,
    field,
    has_status,
    headline,
    problem_blocks,
    remediation_code,
    remediation_section,
    scrub,
    status_buttons,
)
from bot.slack.blocks.markup import Mrkdwn, join, md
from bot.slack.blocks.markup import date as slack_date
from bot.slack.blocks.outcomes import (
    OUTCOME_BADGES,
    OUTCOME_WORDS,
    SOURCE_WORDS,
)
from bot.slack.blocks.text import (
    Block,
    Message,
    actions,
    context,
    fields,
    header,
    message,
    plain_section,
    rupiah,
    section,
    truncate,
)
from bot.store.states import serial_key
from bot.store.transactions import History

MAX_HISTORY_LINES = 8


# A backend's created_at this close to when the bot first heard is the same moment.
SAME_MOMENT = timedelta(minutes=1)


def checking_message(ref_id: str, endpoint: IakEndpoint) -> Message:
    """The ack of `/iak status` (and `status pp`): the card follows when IAK answers."""
    if endpoint.line is Line.POSTPAID:
        text = _(
            "Checking postpaid bill {ref_id} at IAK ({environment})… the card follows in a moment."
        )
    else:
        text = _("Checking {ref_id} at IAK ({environment})… the card follows in a moment.")
    text = text.format(ref_id=ref_id, environment=endpoint.environment)
    return message(text, [plain_section(text)])


def iak_not_configured(problem: str) -> Message:
    """`/iak status` or `/iak balance` on a bot without IAK credentials: which settings to set."""
    lead = _("The bot cannot ask IAK yet: its IAK credentials are not set.")
    return message(f"{lead} {problem}", [section(f":warning: *{lead}*"), plain_section(problem)])


def check_card(checked: Checked, registry: Registry, *, recheck: bool = True) -> Message:
    """The card of one check at IAK, on the transaction's line."""
    answer = checked.answer
    if isinstance(answer, PostpaidCheck):
        return postpaid_status_card(answer, registry, recheck=recheck)
    return status_card(answer, registry, history=checked.history, recheck=recheck)


def status_card(
    check: StatusCheck,
    registry: Registry,
    *,
    history: History | None = None,
    recheck: bool = True,
) -> Message:
    """One transaction as IAK sees it now, what to do, and (when given) what the bot saw before.

    `history` is every observation the bot has stored for this ref_id; None when the bot
    keeps no store, an empty sequence when it has never seen the ref_id.
    """
    transaction = check.transaction
    customer_id = transaction.customer_id if transaction else None
    blocks: list[Block] = [
        header(_("Transaction {ref_id}").format(ref_id=check.ref_id)),
        context(
            badge(OUTCOME_BADGES[check.outcome])
            + "   "
            + _("at IAK {environment}").format(environment=check.answer.endpoint.environment)
        ),
    ]
    problem = problem_blocks(
        check.answer,
        registry,
        unknown_outcome=check.outcome is Outcome.UNKNOWN,
        customer_id=customer_id,
    )
    if problem:
        blocks.append(section(problem))
    if _describes_transaction(check):
        assert transaction is not None
        blocks.append(fields(*_fields(transaction, check.outcome)))
    code = remediation_code(check.answer, registry, has_status=has_status(transaction))
    seen = SeenAs.REFUSED_CHECK if check.refused else SeenAs.ANSWER
    if code is not None:
        blocks.extend(remediation_section(code, seen))
    if history is not None:
        blocks.append(_history_block(history))
    elements = status_buttons(
        RecheckTarget(check.ref_id) if recheck else None,
        code,
        transaction.product_code if transaction else None,
        serial=_shows_serial(transaction, check.outcome),
    )
    if elements:
        blocks.append(actions(*elements, block_id="status_actions"))
    blocks.append(context(asked(check.answer)))
    return message(_status_text(check, code, seen, customer_id), blocks)


def _shows_serial(transaction: TransactionData | None, outcome: Outcome) -> bool:
    """Whether the card shows a sale's serial number (masked): a real one, not IAK's `-`."""
    if transaction is None or outcome is not Outcome.SUCCESS:
        return False
    return serial_key(transaction.sn, transaction.product_code) is not None


def _describes_transaction(check: StatusCheck) -> bool:
    """IAK said something about the top-up itself (not a refusal, not an error alone)."""
    transaction = check.transaction
    if transaction is None or check.refused or check.failure is not None:
        return False
    return transaction.status is not None or transaction.rc is not None


def _fields(transaction: TransactionData, outcome: Outcome) -> list[Mrkdwn]:
    customer_id = transaction.customer_id
    # IAK took the price only for a sale that succeeded; otherwise it is what it would cost.
    sold = outcome is Outcome.SUCCESS
    values = [
        (_("Product"), transaction.product_code or "—"),
        (_("Customer"), mask_customer_id(customer_id)),
        (_("Taken from the deposit") if sold else _("Would cost"), rupiah(transaction.price)),
        (_("Deposit after") if sold else _("Deposit"), rupiah(transaction.balance)),
        (_("IAK tr_id"), transaction.tr_id or "—"),
    ]
    if outcome is Outcome.SUCCESS and transaction.sn:
        values.append((_("Serial number"), scrub(mask_serial(transaction.sn), customer_id)))
    said = " · ".join(
        part
        for part in (
            f"rc {transaction.rc}" if transaction.rc else None,
            scrub(transaction.message, customer_id) if transaction.message else None,
        )
        if part
    )
    if said:
        values.append((_("IAK says"), truncate(said, 200)))
    return [field(label, value) for label, value in values]


def _history_block(history: History) -> Block:
    """First seen (and, when the backend said, when it happened), then each change of
    outcome or rc, newest last."""
    if not history.events:
        return context(_("The bot has no record of this ref_id (no callback or backend report)."))
    ordered = sorted(history.events, key=lambda seen: _utc(seen.at))
    changes = [ordered[0]] + [
        seen
        for before, seen in pairwise(ordered)
        if (seen.outcome, seen.rc) != (before.outcome, before.rc)
    ]
    first = ordered[0]
    lines: list[Mrkdwn] = []
    created = history.created_at
    if created is not None and abs(_utc(first.at) - _utc(created)) >= SAME_MOMENT:
        lines.append(md(_("*Created* {when} (the backend's time)"), when=_when(created)))
    lines.append(
        md(
            _("*First seen by the bot* {when} ({source})"),
            when=_when(first.at),
            source=_(SOURCE_WORDS[first.source]),
        )
    )
    shown = changes[-MAX_HISTORY_LINES:]
    if len(shown) < len(changes):
        earlier = len(changes) - len(shown)
        lines.append(
            md(
                "_{}_",
                ngettext(
                    "{count} earlier change not shown", "{count} earlier changes not shown", earlier
                ).format(count=earlier),
            )
        )
    for seen in shown:
        rc = f" (rc {seen.rc})" if seen.rc else ""
        lines.append(
            md(
                "• {} {}: {}{}",
                _when(seen.at),
                _(SOURCE_WORDS[seen.source]),
                _(OUTCOME_WORDS[seen.outcome]),
                rc,
            )
        )
    return section(join(lines))


def _status_text(
    check: StatusCheck, code: ResponseCode | None, seen: SeenAs, customer_id: str | None
) -> str:
    """The plain-text fallback: notifications and screen readers get the gist."""
    parts = [f"{check.ref_id}: {_(OUTCOME_WORDS[check.outcome])}."]
    transaction = check.transaction
    if not _describes_transaction(check):
        parts.append(headline(check.answer) + ".")
    elif transaction is not None:
        parts.append(
            _("{product}, customer {customer}, {price}.").format(
                product=transaction.product_code or _("Product unknown"),
                customer=mask_customer_id(customer_id),
                price=rupiah(transaction.price),
            )
        )
    if code is not None:
        parts.append(_("What to do: {action}.").format(action=action_line(code, seen)))
    return " ".join(parts)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _when(moment: datetime) -> Mrkdwn:
    """Slack shows the date in each reader's time zone; the fallback (and terminal) in UTC."""
    utc = _utc(moment)
    return slack_date(utc, "{date_short_pretty} {time}", utc.strftime("%Y-%m-%d %H:%M UTC"))
