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
    """IAK's `data` object for one postpaid bill (check-status, inquiry and payment answers)."""

    # `desc` (the biller's own details, a different shape per product) is left out: nothing
    # the card needs, and it can be long.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    ref_id: str
    status: int | None = None
    # postpaid answers name it `response_code`; `rc` is read too, should one come that way
    response_code: str | None = Field(
        default=None, validation_alias=AliasChoices("response_code", "rc")
    )
    product_code: str | None = Field(default=None, validation_alias=AliasChoices("code"))
    customer_id: str | None = Field(default=None, validation_alias=AliasChoices("hp"))
    bill_name: str | None = Field(default=None, validation_alias=AliasChoices("tr_name"))
    period: str | None = None
    nominal: int | None = None
    admin: int | None = None
    # what the customer pays: nominal + admin fee
    price: int | None = None
    # what IAK takes from the deposit
    selling_price: int | None = None
    balance: int | None = None
    tr_id: str | None = None
    noref: str | None = None
    message: str | None = None
    # IAK's time of the transaction, YmdHis (WIB)
    datetime: str | None = None

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
        if text not in ("0", "1", "2", "3"):
            raise ValueError(
                "status must be 0 (not received), 1 (success), 2 (failed) or 3 (in process)"
            )
        return int(text)

    @field_validator("response_code", mode="before")
    @classmethod
    def _response_code(cls, value: object) -> str | None:
        return _rc_text(value)

    @field_validator(
        "product_code",
        "customer_id",
        "bill_name",
        "period",
        "tr_id",
        "noref",
        "message",
        "datetime",
        mode="before",
    )
    @classmethod
    def _optional_text(cls, value: object) -> str | None:
        text = _text(value)
        return None if text is None else text[:500]

    @field_validator("nominal", "admin", "price", "selling_price", "balance", mode="before")
    @classmethod
    def _amount(cls, value: object) -> int | None:
        return _rupiah(value)

    def outcome(self, registry: Registry) -> PostpaidOutcome:
        """Status wins, as on prepaid; without one, the response code's postpaid meaning."""
        if self.status is not None:
            return _POSTPAID_STATUS_OUTCOMES[self.status]
        rc = self.response_code
        if rc is None or rc in POSTPAID_CHECK_REFUSED_RCS:
            return PostpaidOutcome.UNKNOWN
        if rc == POSTPAID_NOT_PAID_RC:
            return PostpaidOutcome.NOT_PAID
        code = registry.rc(rc, line=Line.POSTPAID)
        if code is None:
            return PostpaidOutcome.UNKNOWN
        return _POSTPAID_REGISTRY_OUTCOMES.get(code.status, PostpaidOutcome.UNKNOWN)
