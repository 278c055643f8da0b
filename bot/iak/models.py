"""What IAK sends, parsed leniently: v1 and v2 field names, numbers as strings or numbers.

One model serves check-status answers, top-up answers (forwarded to `POST /transactions`)
and callbacks, because IAK uses the same `data` object for all three.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from bot.registry import Registry, Status, normalize_rc

MAX_REF_ID = 100
_PRINTABLE_NO_SPACE = re.compile(r"^[\x21-\x7e]+$")


class Outcome(StrEnum):
    """How a transaction ended, as far as we know."""

    SUCCESS = "success"
    FAILED = "failed"
    PENDING = "pending"
    # No usable answer (timeout, 5xx, garbage, or the check itself was refused):
    # IAK's OTHER row says to treat it as pending.
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        """Success and failure never change again."""
        return self not in NOT_FINAL


# Not final yet: still pending, or unknown (no usable answer, which IAK says to treat as
# pending). `/iak pending`, the monitor's age-out and its re-checks all mean these two.
NOT_FINAL = (Outcome.PENDING, Outcome.UNKNOWN)


class Source(StrEnum):
    """Where an observation of a transaction came from."""

    CALLBACK = "callback"
    INGEST = "ingest"
    STATUS_CHECK = "status_check"


# rcs that describe the request rather than the transaction: when IAK answers a
# check-status with one of these (and no status), the check failed, not the top-up.
# 118 (account suspended) too: a suspended account's check says nothing of its sales.
CHECK_REFUSED_RCS = frozenset({"06", "102", "107", "110", "117", "118", "204", "205"})

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
    if isinstance(value, bool):
        raise ValueError("must be text or a number")
    if isinstance(value, int | float | Decimal | str):
        text = str(value).strip()
        if "\x00" in text or not _encodable(text):
            # Postgres cannot store NUL or lone surrogates; neither is real IAK data.
            raise ValueError("contains characters that are not valid text")
        return text or None
    raise ValueError("must be text or a number")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
    """IAK's `data` object for one transaction."""

    # Unknown fields (pin, activation_code, ...) are ignored: nothing we need, and a
    # voucher PIN is a secret we would rather never store.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    ref_id: str
    status: int | None = None
    rc: str | None = None
    product_code: str | None = Field(
        default=None, validation_alias=AliasChoices("product_code", "code")
    )
    customer_id: str | None = Field(
        default=None, validation_alias=AliasChoices("customer_id", "hp")
    )
    price: int | None = None
    balance: int | None = None
    tr_id: str | None = None
    sn: str | None = None
    message: str | None = None
    sign: str | None = None

    @field_validator("ref_id", mode="before")
    @classmethod
    def _ref_id(cls, value: object) -> str:
        text = _text(value)
        if text is None:
            raise ValueError("ref_id is required")
        if not valid_ref_id(text):
            raise ValueError("ref_id must be 1-100 printable characters without spaces")
        return text

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: object) -> int | None:
        text = _text(value)
        if text is None:
            return None
        if text not in ("0", "1", "2"):
            raise ValueError("status must be 0 (process), 1 (success) or 2 (failed)")
        return int(text)

    @field_validator("rc", mode="before")
    @classmethod
    def _rc(cls, value: object) -> str | None:
        text = _text(value)
        if text is None:
            return None
        return normalize_rc(text) or text[:16]

    @field_validator("product_code", "customer_id", "tr_id", "sn", "message", "sign", mode="before")
    @classmethod
    def _optional_text(cls, value: object) -> str | None:
        text = _text(value)
        return None if text is None else text[:500]

    @field_validator("price", "balance", mode="before")
    @classmethod
    def _amount(cls, value: object) -> int | None:
        return _rupiah(value)

    def outcome(self, registry: Registry, source: Source) -> Outcome:
        """One outcome from `status` and the rc: status wins; else the rc's registry status."""
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
