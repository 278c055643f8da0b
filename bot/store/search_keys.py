"""How a stored transaction is found by what a customer quotes (`/iak find`): its customer
number in any spelling, its serial number whole or by the last digits of its token, its
tr_id. Each transaction's keys are rows of `transaction_keys`, written with its state by the
store's writer; a search turns the typed text into the same keys.

Pure and light (no SQLAlchemy): the store's writer process derives the keys of the states it
writes, and imports nothing else of the bot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.controls import without_controls

# The longest key: its kind's two characters and a serial number's 500 (what the column
# holds; a longer one, which upper-casing can make of odd text, is cut to it).
KEY_LENGTH = 502
# A serial matches by at least this many of its token's last digits: fewer would match
# strangers' vouchers by chance.
MIN_SERIAL_DIGITS = 8

# What people put between a number's digits: `0812-3450-0001`, `+62 812 3450 0001`,
# `(0812) 3450.0001`.
_SEPARATORS = re.compile(r"[\s().-]")
_NOT_DIGIT = re.compile(r"[^0-9]")
_ALPHANUMERIC = re.compile(r"[0-9A-Za-z]")

# Each kind of key starts with its own letter, so a tr_id never meets a customer number.
CUSTOMER = "c:"
TR_ID = "t:"
# a serial's token digits, last first: "the last N digits" is then a prefix, which an index
# finds by range
SERIAL_DIGITS = "d:"
# a serial whose token has letters (a voucher code), whole
SERIAL = "s:"


def customer_number(value: str | None) -> str | None:
    """`0812-3450-0001`, `081234500001`, `6281234500001`, `+62 812 3450 0001` → `6281234500001`:
    one spelling for one number. Separators go; a national `0` becomes Indonesia's `62`.
    Anything else (a game id with letters) keeps its characters, upper-cased."""
    if not value:
        return None
    compact = _SEPARATORS.sub("", value).removeprefix("+")
    if compact.isascii() and compact.isdigit() and compact.startswith("0"):
        compact = "62" + compact[1:]
    return compact.upper() or None


def serial_token(sn: str | None) -> str:
    """The part of a serial number that is the thing sold: a PLN `sn` is
    `token/customer name/segment power`."""
    return (sn or "").split("/", 1)[0]


def token_digits(sn: str | None) -> str:
    """The digits of a serial's token, in order (`0123-4567 8901…` → `01234567 8901…`)."""
    return _NOT_DIGIT.sub("", serial_token(sn))


def _whole_serial(sn: str | None) -> str | None:
    """A serial's token as typed in any grouping, upper-cased; None for IAK's placeholders."""
    token = _SEPARATORS.sub("", serial_token(sn)).upper()
    if not _ALPHANUMERIC.search(token) or not token.strip("0"):
        return None
    return token


def transaction_keys(customer_id: str | None, tr_id: str | None, sn: str | None) -> set[str]:
    """The keys a transaction with these values is found by."""
    keys = set()
    customer = customer_number(customer_id)
    if customer:
        keys.add(CUSTOMER + customer)
    if tr_id and tr_id.strip():
        keys.add(TR_ID + tr_id.strip())
    digits = token_digits(sn)
    by_digits = len(digits) >= MIN_SERIAL_DIGITS and bool(digits.strip("0"))
    if by_digits:
        keys.add(SERIAL_DIGITS + digits[::-1])
    whole = _whole_serial(sn)
    if whole and not (by_digits and _only_digits(serial_token(sn))):
        # a token of digits alone is found whole by its digits key, as by its last digits
        keys.add(SERIAL + whole)
    return {key[:KEY_LENGTH] for key in keys}


def _only_digits(token: str) -> bool:
    """Digits and the separators that group them, nothing else."""
    return not _SEPARATORS.sub("", token).strip("0123456789")


@dataclass(frozen=True)
class SearchKeys:
    """What one typed search looks for: keys to match exactly, and a prefix of the keys of
    serials whose token ends in the typed digits (None unless there are enough of them)."""

    ref_id: str
    exact: tuple[str, ...]
    serial_prefix: str | None

    @classmethod
    def of(cls, typed: str) -> SearchKeys:
        """Every kind of match a search tries at once: a ref_id, a tr_id, a customer number,
        a serial whole or by its last digits."""
        # nothing stored holds a control character, and Postgres refuses a NUL in a query
        typed = without_controls(typed).strip()
        exact = {TR_ID + typed}
        customer = customer_number(typed)
        if customer:
            exact.add(CUSTOMER + customer)
        whole = _whole_serial(typed)
        if whole:
            exact.add(SERIAL + whole)
        token = serial_token(typed)
        digits = token_digits(typed)
        prefix = None
        # Only a token of digits and separators is read as a serial's last digits: a ref_id
        # like ORD-20261207-0001 is not a serial.
        if len(digits) >= MIN_SERIAL_DIGITS and _only_digits(token):
            prefix = SERIAL_DIGITS + digits[::-1]
        exact = {key[:KEY_LENGTH] for key in exact}
        return cls(typed, tuple(sorted(exact)), prefix and prefix[:KEY_LENGTH])


def after_prefix(prefix: str) -> str:
    """The smallest key past every key that starts with `prefix` (the keys after it are
    digits: `:` sorts right after `9`, byte-wise as the column compares)."""
    return prefix + ":"
