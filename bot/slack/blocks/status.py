"""The live status cards (`/iak status`, `/iak status pp`) and the deposit card (`/iak balance`).

Customer numbers are always masked here, even in ephemeral answers: a card can be
screenshotted or shared, and ops recognise a number by its ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from bot.checks import Checked
from bot.i18n import _, babel_locale, ngettext
from bot.iak.client import (
    Answer,
    BalanceCheck,
    ErrorKind,
    IakEndpoint,
    PostpaidCheck,
    StatusCheck,
)
from bot.iak.models import (
    CHECK_REFUSED_RCS,
    POSTPAID_CHECK_REFUSED_RCS,
    PostpaidBill,
    PostpaidOutcome,
    TransactionData,
)
from bot.iak.products import product_key
from bot.masking import mask_customer_id, mask_name, mask_serial
from bot.outcomes import Outcome
from bot.registry import Line, Registry, ResponseCode, SeenAs, Table, line_named
from bot.slack.blocks.cards import (
    PRODUCT_CODES,
    STOPS_SALES,
    refused_check_action,
    remediation_blocks,
)
from bot.slack.blocks.markup import Mrkdwn, join, link, md
from bot.slack.blocks.markup import date as slack_date
from bot.slack.blocks.outcomes import (
    OUTCOME_BADGES,
    OUTCOME_WORDS,
    POSTPAID_OUTCOME_BADGES,
    POSTPAID_OUTCOME_WORDS,
    SOURCE_WORDS,
)
from bot.slack.blocks.serials import SHOW_SERIAL_ACTION
from bot.slack.blocks.text import (
    Block,
    Message,
    actions,
    button,
    context,
    divider,
    fields,
    header,
    link_button,
    message,
    plain_section,
    rupiah,
    section,
    truncate,
)
from bot.store.states import serial_key
from bot.store.transactions import History

RECHECK_ACTION = "recheck_status"
CHECK_PRODUCT_ACTION = "check_product"
MAX_HISTORY_LINES = 8
# A backend's created_at this close to when the bot first heard is the same moment.
SAME_MOMENT = timedelta(minutes=1)
# The code IAK answers a wrong sign with, per line.
WRONG_SIGN_CODES = {Line.PREPAID: "204", Line.POSTPAID: "100"}

IAK_IP_SETTINGS = "https://developer.iak.id/prod-setting"
# Phone numbers (08…, 62…) and PLN meter numbers are 10-13 digits; tr_ids and amounts in
# IAK's messages are shorter.
_LONG_NUMBER = re.compile(r"(?<!\d)\+?\d{10,}(?!\d)")


@dataclass(frozen=True)
class RecheckTarget:
    """What a Recheck button asks again: a prepaid top-up or a postpaid bill, by ref_id."""

    ref_id: str
    line: Line = Line.PREPAID

    @property
    def value(self) -> str:
        """The button's value: the bare ref_id for prepaid (as on cards posted before postpaid
        existed), `postpaid <ref_id>` for a bill; a ref_id has no spaces, so both read back."""
        return self.ref_id if self.line is Line.PREPAID else f"{self.line.value} {self.ref_id}"

    @classmethod
    def parse(cls, value: str) -> RecheckTarget:
        """The target a button's value names (see `value`)."""
        first, __, rest = value.partition(" ")
        line = line_named(first) if rest else None
        return cls(rest, line) if line is not None else cls(value)


def _badge(badge: tuple[str, str]) -> str:
    emoji, words = badge
    return f"{emoji} *{_(words)}*"


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


def checking_balance_message(endpoint: IakEndpoint) -> Message:
    """The ack of `/iak balance`."""
    text = _("Asking IAK ({environment}) for the deposit balance…").format(
        environment=endpoint.environment
    )
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
            _badge(OUTCOME_BADGES[check.outcome])
            + "   "
            + _("at IAK {environment}").format(environment=check.answer.endpoint.environment)
        ),
    ]
    problem = _problem(
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
    code = _remediation_code(check.answer, registry, has_status=_has_status(transaction))
    seen = SeenAs.REFUSED_CHECK if check.refused else SeenAs.ANSWER
    if code is not None:
        blocks.extend(_remediation_section(code, seen))
    if history is not None:
        blocks.append(_history_block(history))
    elements = _status_buttons(
        RecheckTarget(check.ref_id) if recheck else None,
        code,
        transaction.product_code if transaction else None,
        serial=_shows_serial(transaction, check.outcome),
    )
    if elements:
        blocks.append(actions(*elements, block_id="status_actions"))
    blocks.append(context(_asked(check.answer)))
    return message(_status_text(check, code, seen, customer_id), blocks)


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
            _badge(POSTPAID_OUTCOME_BADGES[check.outcome])
            + "   "
            + _("at IAK {environment} (postpaid)").format(
                environment=check.answer.endpoint.environment
            )
        ),
    ]
    problem = _problem(
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
    code = _remediation_code(check.answer, registry, has_status=_has_status(bill))
    seen = SeenAs.REFUSED_CHECK if check.refused else SeenAs.ANSWER
    if code is not None:
        blocks.extend(_remediation_section(code, seen))
    elements = _status_buttons(
        RecheckTarget(check.ref_id, Line.POSTPAID) if recheck else None,
        code,
        bill.product_code if bill else None,
    )
    if elements:
        blocks.append(actions(*elements, block_id="status_actions"))
    blocks.append(context(_asked(check.answer)))
    parts = [
        _("Postpaid bill {ref_id}: {outcome}.").format(
            ref_id=check.ref_id, outcome=_(POSTPAID_OUTCOME_WORDS[check.outcome])
        )
    ]
    if not describes:
        parts.append(_headline(check.answer) + ".")
    elif bill is not None:
        parts.append(
            _("{product}, customer {customer}, {price}.").format(
                product=bill.product_code or _("Product unknown"),
                customer=mask_customer_id(customer_id),
                price=rupiah(bill.price),
            )
        )
    if code is not None:
        parts.append(_("What to do: {action}.").format(action=_action(code, seen)))
    return message(" ".join(parts), blocks)


def balance_card(
    check: BalanceCheck, registry: Registry, *, low_threshold: int | None = None
) -> Message:
    """IAK's deposit balance; below `low_threshold` (LOW_BALANCE_THRESHOLD) it says so first."""
    endpoint = check.answer.endpoint
    blocks: list[Block] = [
        header(_("IAK deposit balance ({environment})").format(environment=endpoint.environment))
    ]
    balance = check.balance
    low = balance is not None and low_threshold is not None and balance < low_threshold
    deposit = registry.rc("17")
    if balance is not None:
        if low:
            blocks.append(
                section(
                    f"{STOPS_SALES} "
                    + _(
                        "*Low deposit: {balance} is below the threshold of {threshold}*\n"
                        "Top up the IAK deposit now: once it runs out, every sale fails with "
                        "rc 17 (INSUFFICIENT DEPOSIT)."
                    ).format(balance=rupiah(balance), threshold=rupiah(low_threshold))
                )
            )
        blocks.append(
            section(
                ":moneybag: "
                + _("*{balance}* left in the IAK deposit").format(balance=rupiah(balance))
            )
        )
        if low and deposit is not None and deposit.links:
            blocks.append(
                actions(
                    *(
                        link_button(link.label, link.url, f"link_{index}")
                        for index, link in enumerate(deposit.links)
                    ),
                    block_id="deposit_links",
                )
            )
        elif low_threshold is not None:
            blocks.append(
                context(
                    _("Low-balance threshold: {threshold}").format(threshold=rupiah(low_threshold))
                )
            )
    problem = _problem(check.answer, registry, unknown_outcome=None, customer_id=None)
    code = None
    if problem:
        blocks.append(section(problem))
        code = _refusal_code(check.answer, registry)
        if code is not None:
            blocks.extend(_remediation_section(code))
            links = [
                link_button(link.label, link.url, f"link_{index}")
                for index, link in enumerate(code.links)
            ]
            if links:
                blocks.append(actions(*links, block_id="balance_links"))
    blocks.append(context(_asked(check.answer)))
    if balance is None:
        text = _("IAK deposit balance ({environment}): unknown. {problem}.").format(
            environment=endpoint.environment, problem=_headline(check.answer)
        )
    elif low:
        text = _("LOW DEPOSIT: {balance} is below {threshold}. Top up the IAK deposit now.").format(
            balance=rupiah(balance), threshold=rupiah(low_threshold)
        )
    else:
        text = _("IAK deposit balance ({environment}): {balance}.").format(
            environment=endpoint.environment, balance=rupiah(balance)
        )
    return message(text, blocks)


def _action(code: ResponseCode, seen: SeenAs) -> str:
    """The card's "what to do" in a few words: about the check when it was refused."""
    return refused_check_action() if seen is SeenAs.REFUSED_CHECK else code.action.label


def _remediation_section(code: ResponseCode, seen: SeenAs = SeenAs.ANSWER) -> list[Block]:
    if code.table is Table.POSTPAID:
        title = _("From IAK's postpaid response-code table: {title}")
    else:
        title = _("From IAK's response-code table: {title}")
    return [
        divider(),
        section("*" + title.format(title=code.title) + "*"),
        *remediation_blocks(code, seen=seen),
    ]


def _status_buttons(
    target: RecheckTarget | None,
    code: ResponseCode | None,
    product_code: str | None,
    *,
    serial: bool = False,
) -> list[Block]:
    """Recheck, Show SN when the card masks a serial number, "Check the product" when the
    code is about the product, and the code's links."""
    # No target: a terminal, with nothing to press but links.
    elements = [button(_("Recheck"), RECHECK_ACTION, target.value)] if target is not None else []
    if target is not None and serial:
        # The value names the transaction only: the serial is read from the store on a click.
        elements.append(button(_("Show SN"), SHOW_SERIAL_ACTION, target.value))
    if target is not None and code is not None and code.code in PRODUCT_CODES and product_code:
        line = code.table.line
        elements.append(
            button(_("Check the product"), CHECK_PRODUCT_ACTION, product_key(line, product_code))
        )
    if code is not None:
        elements += [
            link_button(link.label, link.url, f"link_{index}")
            for index, link in enumerate(code.links)
        ]
    return elements


def _shows_serial(transaction: TransactionData | None, outcome: Outcome) -> bool:
    """Whether the card shows a sale's serial number (masked): a real one, not IAK's `-`."""
    if transaction is None or outcome is not Outcome.SUCCESS:
        return False
    return serial_key(transaction.sn, transaction.product_code) is not None


def _has_status(data: TransactionData | PostpaidBill | None) -> bool:
    return data is not None and data.status is not None


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
            _scrub(bill.message, customer_id, bill.bill_name) if bill.message else None,
        )
        if part
    )
    if said:
        values.append((_("IAK says"), truncate(said, 200)))
    return [_field(label, value) for label, value in values]


def _field(label: str, value: str) -> Mrkdwn:
    """A field: its label in bold above the value, which shows as it is."""
    return md("*{}*\n{}", label, value)


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
        values.append((_("Serial number"), _scrub(mask_serial(transaction.sn), customer_id)))
    said = " · ".join(
        part
        for part in (
            f"rc {transaction.rc}" if transaction.rc else None,
            _scrub(transaction.message, customer_id) if transaction.message else None,
        )
        if part
    )
    if said:
        values.append((_("IAK says"), truncate(said, 200)))
    return [_field(label, value) for label, value in values]


def _remediation_code(
    answer: Answer, registry: Registry, *, has_status: bool
) -> ResponseCode | None:
    """Which code's remediation a status card shows (from the table of the answer's line)."""
    if answer.failure is not None:
        return registry.get("OTHER")
    rc = answer.rc
    code = registry.rc(rc, line=answer.line) if rc else None
    if code is not None:
        return code
    if has_status:
        return None  # the status speaks for itself; no known code to explain
    if rc is None and answer.http_status == 400:
        return registry.http_status(400)
    return registry.get("OTHER")


def _refusal_code(answer: Answer, registry: Registry) -> ResponseCode | None:
    if answer.failure is not None:
        return registry.get("OTHER")
    if answer.rc is not None:
        return registry.rc(answer.rc, line=answer.line) or registry.get("OTHER")
    return registry.http_status(answer.http_status or 0)


def _problem(
    answer: Answer,
    registry: Registry,
    *,
    unknown_outcome: bool | None,
    customer_id: str | None,
) -> str | None:
    """Why the card cannot simply show the transaction (or balance), said for ops; else None.

    `unknown_outcome`: whether a status check left the outcome unknown; None for a check
    that is not about a transaction (the balance).
    """
    endpoint = answer.endpoint
    postpaid = answer.line is Line.POSTPAID
    where = f"IAK {endpoint.environment} ({endpoint.base_url})"
    status_check = unknown_outcome is not None
    unknown = ""
    if status_check:
        unknown = " " + (
            _(
                "The bill payment's outcome is unknown: treat it as pending (do not refund or "
                "pay it again yet) and recheck in a minute."
            )
            if postpaid
            else _(
                "The transaction's outcome is unknown: treat it as pending (do not refund or "
                "resend it yet) and recheck in a minute."
            )
        )
    failure = answer.failure
    if failure is not None and failure.kind is ErrorKind.BUSY:
        return f":warning: *{_headline(answer)}*\n{failure.detail}.{unknown}"
    if failure is not None:
        asked = _("Asked {where}: {detail} ({tries}).").format(
            where=where, detail=failure.detail, tries=_attempts(answer.attempts)
        )
        return f":warning: *{_headline(answer)}*\n{asked}{unknown}"
    rc = answer.rc
    code_word = "response_code" if postpaid else "rc"
    if rc == "06" and status_check:
        if postpaid:
            other = _("A prepaid top-up is checked with `/iak status <ref_id>` (`iak-bot status`).")
            lead = _("IAK has no postpaid bill payment with this ref_id at {base_url} ({setting}).")
        else:
            other = _(
                "A postpaid bill is checked with `/iak status pp <ref_id>` "
                "(`iak-bot status --postpaid`)."
            )
            lead = _("IAK has no transaction with this ref_id at {base_url} ({setting}).")
        title = _("Not found at IAK {environment}").format(environment=endpoint.environment)
        lead = lead.format(base_url=endpoint.base_url, setting=f"`IAK_ENV={endpoint.environment}`")
        mistake = _(
            "A sandbox ref_id checked against production, or a production one against the "
            "sandbox, is a classic mistake: check which environment the backend sent it to, "
            "and the ref_id for typos."
        )
        return f":mag: *{title}*\n{lead} {mistake} {other}"
    if rc == WRONG_SIGN_CODES[answer.line]:
        title = _("IAK rejected the bot's own credentials")
        wrong = _("{code_word} {rc}, wrong sign").format(code_word=code_word, rc=rc)
        if not unknown:
            about = _("This is about the bot's settings.")
        elif postpaid:
            about = _("This is about the bot's settings, not the bill payment.")
        else:
            about = _("This is about the bot's settings, not the transaction.")
        check = _(
            "Check `IAK_USERNAME` (the account's registered phone number) and `IAK_API_KEY`: "
            "the key must belong to the environment in `IAK_ENV` (now `{environment}`, "
            "{base_url}): IAK gives a development key and a separate production key."
        ).format(environment=endpoint.environment, base_url=endpoint.base_url)
        return f"{STOPS_SALES} *{title}* ({wrong})\n{about} {check}{unknown}"
    if rc == "102":
        return md(
            "{} *{}* ({} 102)\n{}{}",
            STOPS_SALES,
            _("IAK refuses the bot's outbound IP address"),
            code_word,
            md(
                _(
                    "Add the bot's outbound IP on {page}. On Heroku-style platforms a dyno's "
                    "outbound IP changes on every restart: route the bot through a static-IP "
                    "add-on and whitelist the add-on's addresses instead."
                ),
                page=link(IAK_IP_SETTINGS, _("IAK's IP settings page")),
            ),
            unknown,
        )
    code = registry.rc(rc, line=answer.line) if rc else None
    refused_rcs = POSTPAID_CHECK_REFUSED_RCS if postpaid else CHECK_REFUSED_RCS
    refused = rc in refused_rcs if status_check else rc not in (None, "00")
    if rc is not None and refused:
        meaning = f": {code.description}" if code else ""
        title = _("IAK refused the check")
        return f":warning: *{title}* ({code_word} {rc}{meaning}).{unknown}"
    if rc is not None and code is None and unknown_outcome:
        if postpaid:
            title = _("IAK answered {code_word} {rc}, which is not in IAK's postpaid table")
            advice = _("Treat the bill payment as pending and ask IAK what it means.")
        else:
            title = _("IAK answered {code_word} {rc}, which is not in IAK's published table")
            advice = _("Treat the transaction as pending and ask IAK what it means.")
        title = title.format(code_word=code_word, rc=rc)
        return f":grey_question: *{title}*\n{advice}"
    if rc is None and answer.http_status == 400:
        details = answer.error_details or answer.message or _("no details given")
        title = _("IAK refused the request")
        says = _("IAK says: {details}").format(details=truncate(_scrub(details, customer_id), 300))
        return f":warning: *{title}* (HTTP 400)\n{says}{unknown}"
    return None


def _attempts(attempts: int) -> str:
    return ngettext("{count} attempt", "{count} attempts", attempts).format(count=attempts)


def _headline(answer: Answer) -> str:
    """The problem in a few words, for the text fallback."""
    failure = answer.failure
    if failure is None:
        rc = answer.rc
        word = "response_code" if answer.line is Line.POSTPAID else "rc"
        wrong_sign = WRONG_SIGN_CODES[answer.line]
        if rc == "06":
            return _("Not found at IAK {environment}").format(
                environment=answer.endpoint.environment
            )
        if rc == wrong_sign:
            return _(
                "IAK rejected the bot's credentials ({code_word} {rc}): check "
                "IAK_USERNAME, IAK_API_KEY"
            ).format(code_word=word, rc=wrong_sign)
        if rc == "102":
            return _("IAK refuses the bot's IP address ({code_word} 102)").format(code_word=word)
        if rc:
            return _("IAK answered {code_word} {rc}").format(code_word=word, rc=rc)
        return _("IAK answered HTTP {status}").format(status=answer.http_status)
    return {
        ErrorKind.TIMEOUT: lambda: _("IAK did not answer in time"),
        ErrorKind.UNREACHABLE: lambda: _("Could not reach IAK"),
        ErrorKind.HTTP_STATUS: lambda: _("IAK answered HTTP {status}").format(
            status=failure.http_status
        ),
        ErrorKind.UNPARSEABLE: lambda: _("IAK's answer could not be read"),
        ErrorKind.BUSY: lambda: _("Too many checks at IAK at once: try again in a minute"),
    }[failure.kind]()


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


def _asked(answer: Answer) -> str:
    endpoint = answer.endpoint
    return _("Asked IAK {environment} at {base_url} · {tries} in {seconds} s").format(
        environment=endpoint.environment,
        base_url=endpoint.base_url,
        tries=_attempts(answer.attempts),
        seconds=format_decimal(round(answer.elapsed, 1), "0.0", locale=babel_locale()),
    )


def _status_text(
    check: StatusCheck, code: ResponseCode | None, seen: SeenAs, customer_id: str | None
) -> str:
    """The plain-text fallback: notifications and screen readers get the gist."""
    parts = [f"{check.ref_id}: {_(OUTCOME_WORDS[check.outcome])}."]
    transaction = check.transaction
    if not _describes_transaction(check):
        parts.append(_headline(check.answer) + ".")
    elif transaction is not None:
        parts.append(
            _("{product}, customer {customer}, {price}.").format(
                product=transaction.product_code or _("Product unknown"),
                customer=mask_customer_id(customer_id),
                price=rupiah(transaction.price),
            )
        )
    if code is not None:
        parts.append(_("What to do: {action}.").format(action=_action(code, seen)))
    return " ".join(parts)


def _scrub(text: str | None, customer_id: str | None, name: str | None = None) -> str:
    """IAK's free text can quote the customer number (or a bill's account name): mask them,
    and any number as long as one."""
    if not text:
        return ""
    if customer_id and len(customer_id) >= 4:
        text = text.replace(customer_id, mask_customer_id(customer_id))
    if name and len(name.strip()) >= 3:
        text = text.replace(name.strip(), mask_name(name))
    return _LONG_NUMBER.sub(lambda match: mask_customer_id(match.group(0)), text)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _when(moment: datetime) -> Mrkdwn:
    """Slack shows the date in each reader's time zone; the fallback (and terminal) in UTC."""
    utc = _utc(moment)
    return slack_date(utc, "{date_short_pretty} {time}", utc.strftime("%Y-%m-%d %H:%M UTC"))
