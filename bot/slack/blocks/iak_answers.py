"""What every live card says of IAK's answer: the headline when IAK gave no usable one, the
problem and its remedy, the code's remediation, the Recheck and product buttons, and the
scrubbing of customer numbers out of IAK's own text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from babel.numbers import format_decimal

from bot.i18n import _, babel_locale, ngettext
from bot.iak.client import (
    Answer,
    ErrorKind,
)
from bot.iak.models import (
    CHECK_REFUSED_RCS,
    POSTPAID_CHECK_REFUSED_RCS,
    PostpaidBill,
    TransactionData,
)
from bot.iak.products import product_key
from bot.masking import mask_customer_id, mask_name
from bot.registry import Line, Registry, ResponseCode, SeenAs, Table, line_named
from bot.slack.blocks.cards import (
    PRODUCT_CODES,
    STOPS_SALES,
    refused_check_action,
    remediation_blocks,
)
from bot.slack.blocks.markup import Mrkdwn, link, md
from bot.slack.blocks.serials import SHOW_SERIAL_ACTION
from bot.slack.blocks.text import (
    Block,
    button,
    divider,
    link_button,
    section,
    truncate,
)

RECHECK_ACTION = "recheck_status"


CHECK_PRODUCT_ACTION = "check_product"


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


def badge(badge: tuple[str, str]) -> str:
    emoji, words = badge
    return f"{emoji} *{_(words)}*"


def action_line(code: ResponseCode, seen: SeenAs) -> str:
    """The card's "what to do" in a few words: about the check when it was refused."""
    return refused_check_action() if seen is SeenAs.REFUSED_CHECK else code.action.label


def remediation_section(code: ResponseCode, seen: SeenAs = SeenAs.ANSWER) -> list[Block]:
    if code.table is Table.POSTPAID:
        title = _("From IAK's postpaid response-code table: {title}")
    else:
        title = _("From IAK's response-code table: {title}")
    return [
        divider(),
        section("*" + title.format(title=code.title) + "*"),
        *remediation_blocks(code, seen=seen),
    ]


def status_buttons(
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


def has_status(data: TransactionData | PostpaidBill | None) -> bool:
    return data is not None and data.status is not None


def field(label: str, value: str) -> Mrkdwn:
    """A field: its label in bold above the value, which shows as it is."""
    return md("*{}*\n{}", label, value)


def remediation_code(
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


def refusal_code(answer: Answer, registry: Registry) -> ResponseCode | None:
    if answer.failure is not None:
        return registry.get("OTHER")
    if answer.rc is not None:
        return registry.rc(answer.rc, line=answer.line) or registry.get("OTHER")
    return registry.http_status(answer.http_status or 0)


def problem_blocks(
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
        return f":warning: *{headline(answer)}*\n{failure.detail}.{unknown}"
    if failure is not None:
        asked = _("Asked {where}: {detail} ({tries}).").format(
            where=where, detail=failure.detail, tries=attempts(answer.attempts)
        )
        return f":warning: *{headline(answer)}*\n{asked}{unknown}"
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
        says = _("IAK says: {details}").format(details=truncate(scrub(details, customer_id), 300))
        return f":warning: *{title}* (HTTP 400)\n{says}{unknown}"
    return None


def attempts(attempts: int) -> str:
    return ngettext("{count} attempt", "{count} attempts", attempts).format(count=attempts)


def headline(answer: Answer) -> str:
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


def asked(answer: Answer) -> str:
    endpoint = answer.endpoint
    return _("Asked IAK {environment} at {base_url} · {tries} in {seconds} s").format(
        environment=endpoint.environment,
        base_url=endpoint.base_url,
        tries=attempts(answer.attempts),
        seconds=format_decimal(round(answer.elapsed, 1), "0.0", locale=babel_locale()),
    )


def scrub(text: str | None, customer_id: str | None, name: str | None = None) -> str:
    """IAK's free text can quote the customer number (or a bill's account name): mask them,
    and any number as long as one."""
    if not text:
        return ""
    if customer_id and len(customer_id) >= 4:
        text = text.replace(customer_id, mask_customer_id(customer_id))
    if name and len(name.strip()) >= 3:
        text = text.replace(name.strip(), mask_name(name))
    return _LONG_NUMBER.sub(lambda match: mask_customer_id(match.group(0)), text)
