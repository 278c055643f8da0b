"""What IAK sends, parsed leniently: v1 and v2 field names, numbers as strings or numbers.

One model serves check-status answers, top-up answers (forwarded to `POST /transactions`)
and callbacks, because IAK uses the same `data` object for all three.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from bot.outcomes import Outcome, Source
from bot.registry import Line, Registry, Status, normalize_rc

# How long each text field of IAK's `data` may be. The store's columns are sized from these
# (bot.store.schema), so whatever validation accepts, the database stores.
MAX_LENGTH = {
    "ref_id": 100,
    "rc": 16,
    "product_code": 100,
    "customer_id": 100,
    "tr_id": 100,
    "sn": 500,
    "message": 500,
    "sign": 100,
}
MAX_REF_ID = MAX_LENGTH["ref_id"]
_PRINTABLE_NO_SPACE = re.compile(r"^[\x21-\x7e]+$")


# rcs that describe the request rather than the transaction: when IAK answers a
# check-status with one of these (and no status), the check failed, not the top-up.
# 118 (account suspended) too: a suspended account's check says nothing of its sales.
CHECK_REFUSED_RCS = frozenset({"06", "102", "107", "110", "117", "118", "204", "205"})

NOT_FOUND_RC = "06"
_STATUS_OUTCOMES = {0: Outcome.PENDING, 1: Outcome.SUCCESS, 2: Outcome.FAILED}
_REGISTRY_OUTCOMES = {
    Status.SUCCESS: Outcome.SUCCESS,
    Status.FAILED: Outcome.FAILED,
    Status.PENDING: Outcome.PENDING,
}


def valid_ref_id(value: str) -> bool:
    """1-100 printable ASCII characters, no spaces: what a ref_id may be."""
    return 0 < len(value) <= MAX_REF_ID and bool(_PRINTABLE_NO_SPACE.match(value))


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be text or a number")
    else:
        text = str(value)
    # Postgres cannot store NUL or lone surrogates; neither is real IAK data. (ASCII, as
    # nearly everything IAK sends is, has no surrogates to look for.)
    if "\x00" in text or not (text.isascii() or _encodable(text)):
        raise ValueError("contains characters that are not valid text")
    return text or None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _number_or_text(description: str, example: object) -> Any:
    """The documented shape of a field IAK sends as a number or as a string."""
    return WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}],
            "description": description,
            "examples": [example],
        }
    )


def _text_field(name: str, description: str, example: str) -> Any:
    """The documented shape of a text field, with its length limit."""
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": MAX_LENGTH[name]},
                {"type": "integer"},
                {"type": "null"},
            ],
            "description": description,
            "examples": [example],
        }
    )


def _within(text: str, field: str) -> str:
    limit = MAX_LENGTH[field]
    if len(text) > limit:
        raise ValueError(f"at most {limit} characters (got {len(text)})")
    return text


def _ref_id_text(value: object) -> str:
    text = _text(value)
    if text is None:
        raise ValueError("ref_id is required")
    if not valid_ref_id(text):
        raise ValueError("ref_id must be 1-100 printable characters without spaces")
    return text


def _rc_text(value: object) -> str | None:
    """A response code as IAK spells it (`6` → `06`); anything else kept, cut short."""
    text = _text(value)
    if text is None:
        return None
    return normalize_rc(text) or text[:16]


def _rupiah(value: object) -> int | None:
    """Rupiah amounts: 25000, "25000", "25000.00"; anything else is dropped, not fatal."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or abs(amount) >= 10**15:
        return None
    return int(amount)


class TransactionData(BaseModel):
    """IAK's `data` object for one transaction: what a callback, a top-up answer and a
    check-status answer carry. v1 names (`code`, `hp`) are accepted too, and numbers as
    numbers or strings. This one definition both parses requests and documents them (the
    OpenAPI page)."""

    # Unknown fields (pin, activation_code, ...) are ignored: nothing we need, and a
    # voucher PIN is a secret we would rather never store.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    ref_id: Annotated[
        str,
        WithJsonSchema(
            {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_REF_ID,
                "pattern": "^[!-~]+$",
                "description": "Your transaction id: 1-100 printable characters, no spaces.",
                "examples": ["order001"],
            }
        ),
    ]
    status: Annotated[
        int | None,
        _number_or_text('0 = process (pending), 1 = success, 2 = failed ("1", 1.0 too).', 1),
    ] = None
    rc: Annotated[
        str | None, _text_field("rc", 'IAK response code, e.g. "00", "39", "17".', "00")
    ] = None
    product_code: Annotated[
        str | None,
        _text_field("product_code", "Product, e.g. xld25000 (v1: `code`).", "xld25000"),
    ] = Field(default=None, validation_alias=AliasChoices("product_code", "code"))
    customer_id: Annotated[
        str | None, _text_field("customer_id", "Customer number (v1: `hp`).", "0817777215")
    ] = Field(default=None, validation_alias=AliasChoices("customer_id", "hp"))
    price: Annotated[int | None, _number_or_text("Price in rupiah.", 25000)] = None
    balance: Annotated[
        int | None, _number_or_text("Deposit left after it, in rupiah.", 997061249)
    ] = None
    tr_id: Annotated[str | None, _text_field("tr_id", "IAK's transaction id.", "3482")] = None
    sn: Annotated[str | None, _text_field("sn", "Serial number (PLN: the token).", "123456789")] = (
        None
    )
    message: Annotated[
        str | None, _text_field("message", '"SUCCESS", "FAILED", "PROCESS".', "SUCCESS")
    ] = None
    sign: Annotated[
        str | None,
        _text_field("sign", "Callbacks: md5(username + api_key + ref_id), hex.", "96e1028f"),
    ] = None

    @field_validator("ref_id", mode="before")
    @classmethod
    def _ref_id(cls, value: object) -> str:
        return _ref_id_text(value)

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: object) -> int | None:
        text = _text(value)
        if text is None:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = Decimal(-1)
        if number not in (0, 1, 2):
            raise ValueError("status must be 0 (process), 1 (success) or 2 (failed)")
        return int(number)

    @field_validator("rc", mode="before")
    @classmethod
    def _rc(cls, value: object) -> str | None:
        text = _text(value)
        if text is None:
            return None
        return _within(normalize_rc(text) or text, "rc")

    @field_validator("product_code", "customer_id", "tr_id", "sn", "sign", mode="before")
    @classmethod
    def _optional_text(cls, value: object, info: ValidationInfo) -> str | None:
        text = _text(value)
        return None if text is None else _within(text, str(info.field_name))

    @field_validator("message", mode="before")
    @classmethod
    def _message(cls, value: object) -> str | None:
        # IAK's own words: a longer one is cut rather than the transaction refused.
        text = _text(value)
        return None if text is None else text[: MAX_LENGTH["message"]]

    @field_validator("price", "balance", mode="before")
    @classmethod
    def _amount(cls, value: object) -> int | None:
        return _rupiah(value)

    def outcome(self, registry: Registry, source: Source) -> Outcome:
        """One outcome from `status` and the rc: status wins; else the rc's registry status.

        rc 06 says IAK has no such ref_id (yet, or in the environment asked): never an
        outcome, whatever else the answer says, so a later callback or check decides.
        """
        if self.rc == NOT_FOUND_RC:
            return Outcome.UNKNOWN
        if self.status is not None:
            return _STATUS_OUTCOMES[self.status]
        if self.rc is None:
            return Outcome.UNKNOWN
        if source is Source.STATUS_CHECK and self.rc in CHECK_REFUSED_RCS:
            return Outcome.UNKNOWN
        code = registry.rc(self.rc)
        if code is None:
            return Outcome.UNKNOWN
        return _REGISTRY_OUTCOMES.get(code.status, Outcome.UNKNOWN)


class PostpaidOutcome(StrEnum):
    """How a postpaid bill payment stands, as far as we know (IAK's postpaid `status`)."""

    # 1: payment success
    SUCCESS = "success"
    # 2: payment failed
    FAILED = "failed"
    # 3: payment is being processed
    PENDING = "pending"
    # 0: IAK has the inquiry but never received the payment request: the bill is unpaid
    # and nothing was charged, which is neither a failed payment nor one in process.
    NOT_PAID = "not_paid"
    # No usable answer, or the check itself was refused: treat it as pending.
    UNKNOWN = "unknown"

    @property
    def stored(self) -> Outcome:
        """The transaction store's outcome. A payment request IAK never received is a
        payment that failed (IAK's table says so for its 42): nothing was charged, and the
        bill needs paying again."""
        return Outcome.FAILED if self is PostpaidOutcome.NOT_PAID else Outcome(self.value)


# Postpaid codes that describe the check-status request rather than the bill: a refused
# check (wrong sign, unknown ref_id, IP not whitelisted…) says nothing of the payment.
POSTPAID_CHECK_REFUSED_RCS = frozenset(
    {"03", "06", "100", "101", "102", "107", "110", "117", "118"}
)
# "PAYMENT REQUEST HAVEN'T BEEN RECEIEVED": failed in IAK's table, but what it says is that
# the bill was never paid, the same as status 0.
POSTPAID_NOT_PAID_RC = "42"

_POSTPAID_STATUS_OUTCOMES = {
    0: PostpaidOutcome.NOT_PAID,
    1: PostpaidOutcome.SUCCESS,
    2: PostpaidOutcome.FAILED,
    3: PostpaidOutcome.PENDING,
}
_POSTPAID_REGISTRY_OUTCOMES = {
    Status.SUCCESS: PostpaidOutcome.SUCCESS,
    Status.FAILED: PostpaidOutcome.FAILED,
    Status.PENDING: PostpaidOutcome.PENDING,
}


class PostpaidBill(BaseModel):
    """IAK's `data` object for one postpaid bill: its inquiry, payment and check-status
    answers (postpaid has no callbacks). Its code is in `response_code`, from IAK's postpaid
    table. This one definition both parses them (the client's checks, `POST /transactions`)
    and documents them (the OpenAPI page)."""

    # `desc` (the biller's own details, a different shape per product) is left out: nothing
    # the card needs, and it can be long.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    ref_id: Annotated[
        str,
        WithJsonSchema(
            {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_REF_ID,
                "pattern": "^[!-~]+$",
                "description": "Your order id for the bill: 1-100 printable characters.",
                "examples": ["bill001"],
            }
        ),
    ]
    status: Annotated[
        int | None,
        _number_or_text(
            "Check-status answers: 0 payment request not received, 1 success, 2 failed, "
            "3 in process. Inquiry and payment answers have none.",
            1,
        ),
    ] = None
    # postpaid answers name it `response_code`; `rc` is read too, should a check answer
    # come that way (the intake tells the lines apart by `response_code` alone)
    response_code: Annotated[
        str | None,
        _text_field("rc", 'IAK\'s postpaid response code: "00", "39", "05" (pending)…', "00"),
    ] = Field(default=None, validation_alias=AliasChoices("response_code", "rc"))
    product_code: Annotated[
        str | None, _text_field("product_code", "Postpaid product code.", "PLNPOSTPAID")
    ] = Field(default=None, validation_alias=AliasChoices("code", "product_code"))
    customer_id: Annotated[
        str | None, _text_field("customer_id", "Customer (bill) number.", "6391601202")
    ] = Field(default=None, validation_alias=AliasChoices("hp", "customer_id"))
    bill_name: Annotated[str | None, _text_field("message", "Name on the bill.", "JAORAH")] = Field(
        default=None, validation_alias=AliasChoices("tr_name")
    )
    period: Annotated[str | None, _text_field("message", "Bill period(s).", "201405,201407")] = None
    nominal: Annotated[int | None, _number_or_text("Bill amount in rupiah.", 129610)] = None
    admin: Annotated[int | None, _number_or_text("Admin fee in rupiah.", 7500)] = None
    # what the customer pays: nominal + admin fee
    price: Annotated[
        int | None, _number_or_text("What the customer pays: nominal + admin.", 137110)
    ] = None
    # what IAK takes from the deposit
    selling_price: Annotated[
        int | None, _number_or_text("What IAK takes from the deposit.", 133510)
    ] = None
    balance: Annotated[
        int | None, _number_or_text("Deposit left after it, in rupiah.", 996850749)
    ] = None
    tr_id: Annotated[str | None, _text_field("tr_id", "IAK's inquiry id.", "9732795")] = None
    noref: Annotated[
        str | None, _text_field("sn", "The biller's reference number, once paid.", "1609626")
    ] = None
    message: Annotated[str | None, _text_field("message", "IAK's message.", "PAYMENT SUCCESS")] = (
        None
    )
    # IAK's time of the transaction, YmdHis (WIB)
    datetime: Annotated[
        str | None,
        WithJsonSchema(
            {
                "anyOf": [{"type": "string", "pattern": "^[0-9]{14}$"}, {"type": "null"}],
                "description": "IAK's time of the transaction, YmdHis in WIB (UTC+7); "
                "the transaction's time when the body has no created_at.",
                "examples": ["20260314093000"],
            }
        ),
    ] = None

    @field_validator("ref_id", mode="before")
    @classmethod
    def _ref_id(cls, value: object) -> str:
        return _ref_id_text(value)

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: object) -> int | None:
        text = _text(value)
        if text is None:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = Decimal(-1)
        if number not in (0, 1, 2, 3):
            raise ValueError(
                "status must be 0 (not received), 1 (success), 2 (failed) or 3 (in process)"
            )
        return int(number)

    @field_validator("response_code", mode="before")
    @classmethod
    def _response_code(cls, value: object) -> str | None:
        return _rc_text(value)

    @field_validator("product_code", "customer_id", "tr_id", "noref", mode="before")
    @classmethod
    def _column_text(cls, value: object, info: ValidationInfo) -> str | None:
        # stored in the transaction's columns (noref as its serial number): their limits
        text = _text(value)
        column = "sn" if info.field_name == "noref" else str(info.field_name)
        return None if text is None else _within(text, column)

    @field_validator("bill_name", "period", "message", mode="before")
    @classmethod
    def _optional_text(cls, value: object) -> str | None:
        # IAK's own words: a longer one is cut rather than the answer refused.
        text = _text(value)
        return None if text is None else text[: MAX_LENGTH["message"]]

    @field_validator("datetime", mode="before")
    @classmethod
    def _datetime(cls, value: object) -> str | None:
        text = _text(value)
        if text is None:
            return None
        if not re.fullmatch(r"[0-9]{14}", text):
            raise ValueError("must be IAK's YmdHis time in WIB, e.g. 20260314093000")
        return text

    @field_validator("nominal", "admin", "price", "selling_price", "balance", mode="before")
    @classmethod
    def _amount(cls, value: object) -> int | None:
        return _rupiah(value)

    # The names the transaction store reads (bot.store.states.Reported): a bill's code is its
    # `rc`, and the biller's reference number, its proof of payment, is its serial number.
    @property
    def rc(self) -> str | None:
        """The postpaid response code."""
        return self.response_code

    @property
    def sn(self) -> str | None:
        """The biller's reference number."""
        return self.noref

    @property
    def is_inquiry_answer(self) -> bool:
        """A successful inquiry's answer, not a payment's: 00 (PAYMENT / INQUIRY SUCCESS)
        with no `status` and no `noref`, the biller's proof of payment. IAK has the bill's
        details, and nothing was paid."""
        return self.response_code == "00" and self.status is None and not self.noref

    def outcome(self, registry: Registry, source: Source = Source.STATUS_CHECK) -> PostpaidOutcome:
        """Status wins, as on prepaid; without one, the response code's postpaid meaning.

        On a check-status, codes about the check itself (wrong sign, no such inquiry) say
        nothing of the bill; on a forwarded inquiry or payment they are why it failed.
        """
        if self.status is not None:
            return _POSTPAID_STATUS_OUTCOMES[self.status]
        rc = self.response_code
        if rc is None or (source is Source.STATUS_CHECK and rc in POSTPAID_CHECK_REFUSED_RCS):
            return PostpaidOutcome.UNKNOWN
        if rc == POSTPAID_NOT_PAID_RC:
            return PostpaidOutcome.NOT_PAID
        code = registry.rc(rc, line=Line.POSTPAID)
        if code is None:
            return PostpaidOutcome.UNKNOWN
        return _POSTPAID_REGISTRY_OUTCOMES.get(code.status, PostpaidOutcome.UNKNOWN)
