"""The Workflow Builder step `check_iak_transaction`: what it declares, reads and answers.

A team's workflow (a complaint form that files a ticket, say) adds "Check a transaction at
IAK" as a step, maps a ref_id into it, and uses its outputs in later steps. The step asks
IAK live through `bot.checks`, like `/iak status`.

Only a bad input fails the step (an empty or over-long ref_id, a line other than prepaid or
postpaid): the workflow's author must fix the mapping. Anything IAK does (down, slow, the
ref_id unknown to it, a refusal) completes the step with the outcome `unknown` and a
summary saying why, so the workflow goes on and its later steps can say "treat it as
pending"; so does a ref_id no sale can have (spaces in it, say, typed into a form), without
asking IAK. Outputs go wherever the workflow sends them, so customer numbers
are masked as in a channel message (unless MASK_CUSTOMER_ID=false), and the serial number
always is.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.checks import Checked
from bot.i18n import _
from bot.iak.client import PostpaidCheck, StatusCheck
from bot.iak.models import MAX_REF_ID, valid_ref_id
from bot.masking import mask_customer_id, mask_serial
from bot.outcomes import Line, Outcome
from bot.registry import Registry
from bot.shapes import Json, JsonView
from bot.slack.blocks.iak_answers import headline, scrub
from bot.slack.blocks.outcomes import OUTCOME_WORDS, POSTPAID_OUTCOME_WORDS
from bot.slack.blocks.text import truncate
from bot.store.states import serial_key

CALLBACK_ID = "check_iak_transaction"
TITLE = "Check a transaction at IAK"
DESCRIPTION = "Asks IAK live how a top-up or a postpaid bill payment stands, by its ref_id"
# A summary is one line for a message or a ticket's title.
MAX_SUMMARY = 300
MAX_MESSAGE = 500


@dataclass(frozen=True)
class Parameter:
    """One input or output of the step, as the manifest declares it."""

    title: str
    description: str
    required: bool = False
    hint: str | None = None

    def declared(self, name: str) -> Json:
        """The manifest's entry for this parameter (all of them are strings)."""
        entry: Json = {
            "type": "string",
            "title": self.title,
            "description": self.description,
            "is_required": self.required,
            "name": name,
        }
        if self.hint:
            entry["hint"] = self.hint
        return entry


INPUTS: dict[str, Parameter] = {
    "ref_id": Parameter(
        "ref_id",
        "The transaction's ref_id, as the merchant backend sent it to IAK",
        required=True,
        hint="ORD-77",
    ),
    "line": Parameter(
        "Line",
        "prepaid (a top-up, the default) or postpaid (a bill payment)",
        hint="prepaid or postpaid",
    ),
}
OUTPUTS: dict[str, Parameter] = {
    "outcome": Parameter(
        "Outcome",
        "success, failed, pending, or unknown (IAK did not say: treat it as pending)",
        required=True,
    ),
    "rc": Parameter("Response code", "IAK's code (postpaid: response_code); empty when unknown"),
    "message": Parameter("IAK's message", "What IAK said, customer numbers masked"),
    "product_code": Parameter("Product code", "The product IAK names for the transaction"),
    "serial_masked": Parameter("Serial number (masked)", "A success's serial number, masked"),
    "summary": Parameter(
        "Summary", "One line: the ref_id, the outcome and why, the product", required=True
    ),
}


def definition() -> Json:
    """The step as the manifest's `functions` declares it."""
    return {
        "title": TITLE,
        "description": DESCRIPTION,
        "input_parameters": {name: one.declared(name) for name, one in INPUTS.items()},
        "output_parameters": {name: one.declared(name) for name, one in OUTPUTS.items()},
    }


@dataclass(frozen=True)
class StepInput:
    """A ref_id to check, on its line."""

    ref_id: str
    line: Line = Line.PREPAID


@dataclass(frozen=True)
class NotARefId:
    """A ref_id of the right length that no sale can have (spaces, control characters):
    not asked at IAK, the step completes as unknown."""

    ref_id: str


@dataclass(frozen=True)
class BadInput:
    """Inputs the step cannot run with, and what the workflow's author should fix."""

    reason: str


def read_inputs(inputs: JsonView) -> StepInput | NotARefId | BadInput:
    """The step's inputs as Slack sends them; a workflow that maps nothing into `line` gets
    prepaid."""
    ref_id = _text(inputs.get("ref_id"))
    if not ref_id:
        return BadInput(_("The ref_id is empty: map the step's ref_id input to a value."))
    if len(ref_id) > MAX_REF_ID:
        return BadInput(
            _("The ref_id is {length} characters long: IAK takes at most {limit}.").format(
                length=len(ref_id), limit=MAX_REF_ID
            )
        )
    line = _text(inputs.get("line")).lower() or Line.PREPAID.value
    if line not in (Line.PREPAID.value, Line.POSTPAID.value):
        return BadInput(
            _(
                "“{line}” is not a line: use `prepaid` or `postpaid` (or nothing, for `prepaid`)."
            ).format(line=truncate(line, 40))
        )
    if not valid_ref_id(ref_id):
        return NotARefId(ref_id)
    return StepInput(ref_id, Line(line))


def outputs(checked: Checked, registry: Registry, *, mask: bool) -> dict[str, str]:
    """What the step completes with for one check at IAK."""
    reported = checked.reported
    outcome = checked.outcome
    customer_id = reported.customer_id if reported is not None else None
    answer = checked.answer
    name = answer.bill.bill_name if isinstance(answer, PostpaidCheck) and answer.bill else None
    message = answer.answer.message or ""
    if mask:
        message = scrub(message, customer_id, name)
    serial = ""
    sale = answer.transaction if isinstance(answer, StatusCheck) else None
    # a real serial number, not IAK's "-" placeholder (as the status card decides)
    if (
        sale is not None
        and outcome is Outcome.SUCCESS
        and serial_key(sale.sn, sale.product_code) is not None
    ):
        serial = mask_serial(sale.sn)
    product = reported.product_code if reported is not None else None
    return {
        "outcome": outcome.value,
        "rc": "" if outcome is Outcome.UNKNOWN else (answer.rc or ""),
        "message": truncate(" ".join(message.split()), MAX_MESSAGE),
        "product_code": product or "",
        "serial_masked": serial,
        "summary": _summary(checked, registry, customer_id, mask=mask),
    }


def not_configured_outputs(step: StepInput) -> dict[str, str]:
    """The step on a bot without IAK credentials: unknown, and why."""
    return _unknown(step.ref_id, _("the bot cannot ask IAK: its IAK credentials are not set"))


def not_a_ref_id_outputs(step: NotARefId) -> dict[str, str]:
    """The step on a ref_id no sale can have: unknown, and why (IAK was not asked)."""
    why = _("not checked: a ref_id is 1-100 printable characters without spaces")
    shown = "".join(c if c.isprintable() else "?" for c in step.ref_id)
    return _unknown(truncate(shown, 40), why)


def _unknown(ref_id: str, why: str) -> dict[str, str]:
    """Outputs for an outcome the bot could not learn, and why."""
    return {
        "outcome": Outcome.UNKNOWN.value,
        "rc": "",
        "message": "",
        "product_code": "",
        "serial_masked": "",
        "summary": _one_line(f"{ref_id}: {_(OUTCOME_WORDS[Outcome.UNKNOWN])}: {why}"),
    }


def _summary(checked: Checked, registry: Registry, customer_id: str | None, *, mask: bool) -> str:
    """`ORD-77: Failed (rc 07 FAILED) · xld25000 · 08***215`, or for an unknown outcome
    `ORD-77: Unknown (treat as pending): Not found at IAK development`."""
    answer = checked.answer
    if isinstance(answer, PostpaidCheck):
        words = _(POSTPAID_OUTCOME_WORDS[answer.outcome])
    else:
        words = _(OUTCOME_WORDS[answer.outcome])
    if checked.outcome is Outcome.UNKNOWN:
        return _one_line(f"{checked.ref_id}: {words}: {headline(answer.answer)}")
    parts = [f"{checked.ref_id}: {words}"]
    rc = answer.rc
    if rc:
        code = registry.rc(rc, line=checked.line)
        word = "response_code" if checked.line is Line.POSTPAID else "rc"
        meaning = f" {code.description}" if code is not None else ""
        parts[0] += f" ({word} {rc}{meaning})"
    reported = checked.reported
    if reported is not None and reported.product_code:
        parts.append(reported.product_code)
    if customer_id:
        parts.append(mask_customer_id(customer_id) if mask else customer_id)
    return _one_line(" · ".join(parts))


def _one_line(text: str) -> str:
    return truncate(" ".join(text.split()), MAX_SUMMARY)


def _text(value: object) -> str:
    """An input as text: Slack sends strings; a number mapped in still reads."""
    if value is None or isinstance(value, bool | dict | list):
        return ""
    return str(value).strip()
