"""The postpaid status card (`/iak status pp`): the bill, what it cost or would cost, its
periods as months, and the postpaid code's remediation."""

from __future__ import annotations

import re
from datetime import date, datetime

from babel.dates import format_date, format_datetime

from bot.i18n import _, babel_locale, ngettext
from bot.iak.client import (
    PostpaidCheck,
)
from bot.iak.models import (
    PostpaidBill,
    PostpaidOutcome,
)
from bot.masking import mask_customer_id, mask_name
from bot.registry import Line, Registry, SeenAs
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
from bot.slack.blocks.markup import Mrkdwn
from bot.slack.blocks.outcomes import (
    POSTPAID_OUTCOME_BADGES,
    POSTPAID_OUTCOME_WORDS,
)
from bot.slack.blocks.text import (
    Block,
    Message,
    actions,
    context,
    fields,
    header,
    message,
    rupiah,
    section,
    truncate,
)


def postpaid_status_card(
    check: PostpaidCheck, registry: Registry, *, recheck: bool = True
) -> Message:
    """One postpaid bill payment as IAK sees it now, and what to do.

    Postpaid answers carry their code in `response_code`, from IAK's postpaid table, whose
    remediation the card shows. No history: the bot does not store postpaid bills (yet).
    """
    bill = check.bill
    customer_id = bill.customer_id if bill else None
    blocks: list[Block] = [
        header(_("Postpaid bill {ref_id}").format(ref_id=check.ref_id)),
        context(
            badge(POSTPAID_OUTCOME_BADGES[check.outcome])
            + "   "
            + _("at IAK {environment} (postpaid)").format(
                environment=check.answer.endpoint.environment
            )
        ),
    ]
    problem = problem_blocks(
        check.answer,
        registry,
        unknown_outcome=check.outcome is PostpaidOutcome.UNKNOWN,
        customer_id=customer_id,
    )
    if problem:
        blocks.append(section(problem))
    describes = _describes_bill(check)
    if describes:
        assert bill is not None
        blocks.append(fields(*_bill_fields(bill)))
        money = _bill_money(bill, paid=check.outcome is PostpaidOutcome.SUCCESS)
        if money:
            blocks.append(context(money))
    code = remediation_code(check.answer, registry, has_status=has_status(bill))
    seen = SeenAs.REFUSED_CHECK if check.refused else SeenAs.ANSWER
    if code is not None:
        blocks.extend(remediation_section(code, seen))
    elements = status_buttons(
        RecheckTarget(check.ref_id, Line.POSTPAID) if recheck else None,
        code,
        bill.product_code if bill else None,
    )
    if elements:
        blocks.append(actions(*elements, block_id="status_actions"))
    blocks.append(context(asked(check.answer)))
    parts = [
        _("Postpaid bill {ref_id}: {outcome}.").format(
            ref_id=check.ref_id, outcome=_(POSTPAID_OUTCOME_WORDS[check.outcome])
        )
    ]
    if not describes:
        parts.append(headline(check.answer) + ".")
    elif bill is not None:
        parts.append(
            _("{product}, customer {customer}, {price}.").format(
                product=bill.product_code or _("Product unknown"),
                customer=mask_customer_id(customer_id),
                price=rupiah(bill.price),
            )
        )
    if code is not None:
        parts.append(_("What to do: {action}.").format(action=action_line(code, seen)))
    return message(" ".join(parts), blocks)


def _describes_bill(check: PostpaidCheck) -> bool:
    """IAK said something about the bill itself (not a refusal, not an error alone)."""
    bill = check.bill
    if bill is None or check.refused or check.failure is not None:
        return False
    return bill.status is not None or bill.response_code is not None


def _bill_fields(bill: PostpaidBill) -> list[Mrkdwn]:
    customer_id = bill.customer_id
    values = [
        (_("Product"), bill.product_code or "—"),
        (_("Customer"), mask_customer_id(customer_id)),
        (_("Bill name"), mask_name(bill.bill_name)),
        (_("Period"), bill_period(bill.period)),
        (_("Nominal"), rupiah(bill.nominal)),
        (_("Admin fee"), rupiah(bill.admin)),
        (_("Price"), rupiah(bill.price)),
        (_("IAK tr_id"), bill.tr_id or "—"),
        (_("Biller's noref"), bill.noref or "—"),
    ]
    said = " · ".join(
        part
        for part in (
            f"response_code {bill.response_code}" if bill.response_code else None,
            scrub(bill.message, customer_id, bill.bill_name) if bill.message else None,
        )
        if part
    )
    if said:
        values.append((_("IAK says"), truncate(said, 200)))
    return [field(label, value) for label, value in values]


def _bill_money(bill: PostpaidBill, *, paid: bool) -> str | None:
    """What the payment took from the deposit, or would cost when IAK does not say it was
    paid (status 1), and when IAK says it happened."""
    parts = []
    if bill.selling_price is not None:
        amount = rupiah(bill.selling_price)
        if paid:
            parts.append(_("Taken from the deposit: {amount}").format(amount=amount))
        else:
            parts.append(_("Would cost: {amount}").format(amount=amount))
    if bill.balance is not None:
        if paid:
            parts.append(_("deposit after: {balance}").format(balance=rupiah(bill.balance)))
        else:
            parts.append(_("deposit: {balance}").format(balance=rupiah(bill.balance)))
    when = _iak_time(bill.datetime)
    if when:
        parts.append(_("IAK's time: {when}").format(when=when))
    return " · ".join(parts) or None


# IAK's bill period: `202103` for one month, `201405,201407` for the first and last of several.
_PERIOD = re.compile(r"^(\d{4})(\d{2})(?:,(\d{4})(\d{2}))?$")


MAX_MONTHS_LISTED = 6


def bill_period(period: str | None) -> str:
    """IAK's period as months with their count (`May 2014, Jun 2014, Jul 2014 (3 months)`),
    in the reader's language; anything else as IAK sent it."""
    if not period:
        return "—"
    found = _PERIOD.match(period.replace(" ", ""))
    if not found:
        return truncate(period, 60)
    first_year, first_month, last_year, last_month = found.groups()
    first = (int(first_year), int(first_month))
    last = (int(last_year), int(last_month)) if last_year else first
    if not (1 <= first[1] <= 12 and 1 <= last[1] <= 12) or last < first:
        return truncate(period, 60)
    count = (last[0] - first[0]) * 12 + last[1] - first[1] + 1
    months = [
        date(first[0] + (first[1] - 1 + step) // 12, (first[1] - 1 + step) % 12 + 1, 1)
        for step in range(count)
    ]

    def month(day: date) -> str:
        return format_date(day, "MMM y", locale=babel_locale())

    if count <= MAX_MONTHS_LISTED:
        listed = ", ".join(month(day) for day in months)
    else:
        listed = f"{month(months[0])} – {month(months[-1])}"
    counted = ngettext("{count} month", "{count} months", count).format(count=count)
    return f"{listed} ({counted})"


def _iak_time(value: str | None) -> str | None:
    """IAK's YmdHis in WIB (`20180803171608`) as `3 Aug 2018 17:16:08 WIB`, in the reader's
    language; anything else as sent."""
    if not value:
        return None
    if len(value) == 14 and value.isdigit():
        try:
            moment = datetime.strptime(value, "%Y%m%d%H%M%S")
        except ValueError:
            return truncate(value, 40)
        return format_datetime(moment, "d MMM y HH:mm:ss", locale=babel_locale()) + " WIB"
    return truncate(value, 40)
