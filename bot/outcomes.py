"""How a transaction ended, as far as the bot knows, and where it heard so.

Kept apart from IAK's payload models (bot.iak.models) so that the store's writer process
can use them without loading pydantic.
"""

from __future__ import annotations

from enum import StrEnum


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
# The same as stored in a column, for SQL: not final, and final.
NOT_FINAL_VALUES = tuple(outcome.value for outcome in NOT_FINAL)
FINAL_VALUES = tuple(outcome.value for outcome in Outcome if outcome not in NOT_FINAL)


class Source(StrEnum):
    """Where an observation of a transaction came from."""

    CALLBACK = "callback"
    INGEST = "ingest"
    STATUS_CHECK = "status_check"


class Line(StrEnum):
    """Which of IAK's two APIs a code comes from.

    Each answers with codes from its own table, and a number can mean something else in
    the other: prepaid `06` is TRANSACTION NOT FOUND, postpaid `06` INQUIRY ID NOT FOUND.
    """

    # Prepaid top-ups, callbacks and game inquiries: the code is in `rc`.
    PREPAID = "prepaid"
    # Postpaid bills (inquiry, payment, check-status): the code is in `response_code`.
    POSTPAID = "postpaid"


def code_key(line: Line, rc: str) -> str:
    """A failure code's name across both lines, as the registry and `/iak code` spell it:
    `06` is prepaid's, `postpaid 06` postpaid's (a different row, meaning something else)."""
    return f"{Line.POSTPAID.value} {rc}" if line is Line.POSTPAID else rc


def split_code_key(key: str) -> tuple[Line, str]:
    """The line and rc of a `code_key`."""
    word, space, rc = key.partition(" ")
    if space and word == Line.POSTPAID.value:
        return Line.POSTPAID, rc
    return Line.PREPAID, key


class Refusal(StrEnum):
    """Why a callback was refused (what IAK was answered)."""

    BAD_SIGN = "bad_sign"  # 401: the sign does not match our username and API key
    NOT_ALLOWED = "not_allowed"  # 403: the caller's address is not in CALLBACK_ALLOWED_IPS
    MALFORMED = "malformed"  # 400: a body we cannot read or store
    TOO_LARGE = "too_large"  # 413: a body over 64 KiB, not read at all
