"""What the registry knows about one IAK response code."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.i18n import N_, _

# Which API a code belongs to lives beside the outcomes, so the store can use it too.
from bot.outcomes import Line as Line


class Table(StrEnum):
    """Which of IAK's tables a row comes from."""

    HTTP = "http"
    PREPAID = "prepaid"
    GAME = "game"
    POSTPAID = "postpaid"

    @property
    def line(self) -> Line:
        """The API whose answers carry this table's codes (the HTTP table is the prepaid API's)."""
        return Line.POSTPAID if self is Table.POSTPAID else Line.PREPAID


class Provenance(StrEnum):
    """Where a row's words (description, status, solution) were copied from."""

    # IAK's live, published response-code page (the seed table): the default.
    SEED = "seed"
    # IAK's reference documentation on GitHub: rows the live page lacks (118) and the
    # postpaid table, which the live page does not show.
    REFERENCE = "reference"


class Status(StrEnum):
    """What a code says about the transaction, as IAK's table puts it."""

    SUCCESS = "Success"
    FAILED = "Failed"
    PENDING = "Pending"
    # HTTP 200 alone: the rc in the body decides.
    SUCCESS_OR_FAILED = "Success/Failed"


class Action(StrEnum):
    """What ops should do about a code."""

    NONE = "none"
    WAIT = "wait"
    RETRY_NOW = "retry_now"
    RETRY_LATER = "retry_later"
    FIX_INPUT = "fix_input"
    TOP_UP_DEPOSIT = "top_up_deposit"
    FIX_CONFIGURATION = "fix_configuration"
    CONTACT_IAK = "contact_iak"
    # Nothing we can do for this bill or number: the customer has to pay or act elsewhere.
    TELL_CUSTOMER = "tell_customer"

    @property
    def label(self) -> str:
        """Human wording of the action for cards, in the current language."""
        return _(_ACTION_LABELS[self])


_ACTION_LABELS = {
    Action.NONE: N_("Nothing to do"),
    Action.WAIT: N_("Wait"),
    Action.RETRY_NOW: N_("Retry now"),
    Action.RETRY_LATER: N_("Retry later"),
    Action.FIX_INPUT: N_("Fix the input"),
    Action.TOP_UP_DEPOSIT: N_("Top up the deposit"),
    Action.FIX_CONFIGURATION: N_("Fix our configuration"),
    Action.CONTACT_IAK: N_("Contact IAK"),
    Action.TELL_CUSTOMER: N_("Tell the customer"),
}


class Owner(StrEnum):
    """Who has to act."""

    US = "us"
    CUSTOMER = "customer"
    IAK = "IAK"

    @property
    def label(self) -> str:
        """Human wording of the owner for cards, in the current language."""
        return _(_OWNER_LABELS[self])


_OWNER_LABELS = {Owner.US: N_("us"), Owner.CUSTOMER: N_("the customer"), Owner.IAK: N_("IAK")}


class Sold(StrEnum):
    """Whether the request that got this code sold (prepaid) or paid (postpaid) anything."""

    YES = "yes"
    NO = "no"
    # The code alone cannot say (pending, undefined, a timeout): the original may still land.
    UNKNOWN = "unknown"


class Resend(StrEnum):
    """What sending the transaction again means after this code."""

    # Prepaid IAK answers a ref_id it knows with that transaction: it cannot sell twice.
    # Postpaid: the same request again (its ref_id, or for a payment the inquiry's tr_id).
    SAME_REF_ID = "same_ref_id"
    # A new sale (prepaid) or a new inquiry (postpaid): only once the original is known
    # to have failed.
    NEW_REF_ID = "new_ref_id"
    # Postpaid: the bill is unpaid and its inquiry still stands: pay that inquiry's tr_id.
    PAY_TR_ID = "pay_tr_id"
    # Nothing to send again: done, or nothing we can sell or pay.
    NEVER = "never"
    # Not until the outcome is known: recheck it instead.
    WAIT = "wait"


class SeenAs(StrEnum):
    """Where a card's code was seen: which request IAK answered with it."""

    # The transaction's own answer: a sale, an inquiry, a payment (or a check that found it).
    ANSWER = "answer"
    # The bot's check-status was refused (06 not found, 102, 204…): says nothing of the sale.
    REFUSED_CHECK = "refused_check"


def resend_rule_offences(code: ResponseCode) -> list[str]:
    """Why this code's resend facts, or its "what to do" beside them, could sell or pay twice
    (empty when they cannot)."""
    offences: list[str] = []
    postpaid = code.table is Table.POSTPAID
    if code.status is Status.PENDING and code.sold is not Sold.UNKNOWN:
        offences.append(f"{code.key}: pending, yet sold is {code.sold.value}")
    if (code.status is Status.PENDING or code.sold is Sold.UNKNOWN) and code.resend in (
        Resend.NEW_REF_ID,
        Resend.PAY_TR_ID,
    ):
        offences.append(f"{code.key}: may still land, yet resend is {code.resend.value}")
    if postpaid and code.sold is Sold.UNKNOWN and code.resend is Resend.SAME_REF_ID:
        # A postpaid ref_id is refused when reused, and a tr_id paid again may pay twice.
        offences.append(f"{code.key}: postpaid and sold unknown, yet resend is same_ref_id")
    if code.sold is Sold.YES and code.resend is not Resend.NEVER:
        offences.append(f"{code.key}: sold, yet resend is {code.resend.value}")
    if code.resend is Resend.PAY_TR_ID and not postpaid:
        offences.append(f"{code.key}: only postpaid payments name a tr_id")
    if code.status is Status.SUCCESS and code.sold is not Sold.YES:
        offences.append(f"{code.key}: success, yet sold is {code.sold.value}")
    # The card's "what to do" line comes first: it must not say retry where the resend
    # sentence under it says not to.
    if code.action in (Action.RETRY_NOW, Action.RETRY_LATER):
        if code.sold is not Sold.NO:
            offences.append(
                f"{code.key}: sold is {code.sold.value}, yet what to do is {code.action.value}"
            )
        if code.resend in (Resend.NEVER, Resend.WAIT):
            offences.append(
                f"{code.key}: resend is {code.resend.value}, yet what to do is {code.action.value}"
            )
    return offences


class Link(BaseModel):
    """An IAK page a solution names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1, max_length=60)
    url: str = Field(pattern=r"^https://\S+$", max_length=300)

    @property
    def label(self) -> str:
        """The title in the current language (extracted from the registry like the advice)."""
        return _(self.title)


class ResponseCode(BaseModel):
    """One row of IAK's response-code tables plus our remediation judgement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^(\d{2,3}|OTHER)$")
    http_reason: str | None = None
    table: Table
    source: Provenance = Provenance.SEED
    description: str = Field(min_length=1)
    status: Status
    solution: str = Field(min_length=1)
    action: Action
    owner: Owner
    stops_sales: bool
    sold: Sold
    resend: Resend
    advice: str = Field(min_length=1, max_length=500)
    links: tuple[Link, ...] = ()
    # Postpaid rows whose number is also a prepaid code: does it mean the same there? A
    # judgement (prepaid 17 INSUFFICIENT DEPOSIT and postpaid 17 BALANCE NOT ENOUGH are the
    # same thing in other words), so the data file says it, and the loader insists.
    same_as_prepaid: bool | None = None

    @field_validator("description", "solution", "advice")
    @classmethod
    def _single_spaced(cls, value: str) -> str:
        return " ".join(value.split())

    @model_validator(mode="after")
    def _http_rows_have_reasons(self) -> ResponseCode:
        if self.table is Table.HTTP and self.code != "OTHER" and not self.http_reason:
            raise ValueError(f"HTTP row {self.code} needs its http_reason")
        return self

    @model_validator(mode="after")
    def _postpaid_rows_come_from_the_reference(self) -> ResponseCode:
        if self.table is Table.POSTPAID and self.source is not Provenance.REFERENCE:
            raise ValueError(f"postpaid {self.code}: the seed has no postpaid table")
        if self.same_as_prepaid is not None and self.table is not Table.POSTPAID:
            raise ValueError(f"{self.code}: only postpaid rows say same_as_prepaid")
        return self

    @property
    def key(self) -> str:
        """The name of this row alone, as `/iak code` takes it: `17`, `OTHER`, `postpaid 11`."""
        return f"{Line.POSTPAID.value} {self.code}" if self.table is Table.POSTPAID else self.code

    @property
    def translated_advice(self) -> str:
        """Our advice in the current language (its catalog is extracted from the registry file
        by `bot.registry.extract`); `advice` is the English it is written in."""
        return _(self.advice)

    @property
    def label(self) -> str:
        """The code as IAK's table spells it ("17", "400 - Bad Request", "OTHER")."""
        return f"{self.code} - {self.http_reason}" if self.http_reason else self.code

    @property
    def title(self) -> str:
        """Short heading: "17 · INSUFFICIENT DEPOSIT", "Postpaid 11 · DUPLICATE REF ID"."""
        if self.table is Table.HTTP:
            if self.code == "OTHER":
                return _("HTTP OTHER · any status but 200 and 400")
            return f"HTTP {self.code} · {self.http_reason}"
        if self.table is Table.POSTPAID:
            return _("Postpaid {code} · {description}").format(
                code=self.code, description=self.description
            )
        return f"{self.code} · {self.description}"


class RegistryFile(BaseModel):
    """The registry's data file."""

    model_config = ConfigDict(extra="forbid")

    codes: tuple[ResponseCode, ...]

    @model_validator(mode="after")
    def _codes_unique(self) -> RegistryFile:
        seen: set[str] = set()
        for entry in self.codes:
            if entry.key in seen:
                raise ValueError(f"code {entry.key} appears twice")
            seen.add(entry.key)
        return self

    @model_validator(mode="after")
    def _shared_numbers_are_judged(self) -> RegistryFile:
        prepaid = {entry.code for entry in self.codes if entry.table in (Table.PREPAID, Table.GAME)}
        for entry in self.codes:
            if entry.table is not Table.POSTPAID:
                continue
            shared = entry.code in prepaid
            if shared and entry.same_as_prepaid is None:
                raise ValueError(f"postpaid {entry.code} is prepaid too: say same_as_prepaid")
            if not shared and entry.same_as_prepaid is not None:
                raise ValueError(f"postpaid {entry.code} is not prepaid: drop same_as_prepaid")
        return self
