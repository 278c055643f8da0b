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


class Source(StrEnum):
    """Where an observation of a transaction came from."""

    CALLBACK = "callback"
    INGEST = "ingest"
    STATUS_CHECK = "status_check"


class Refusal(StrEnum):
    """Why a callback was refused (what IAK was answered)."""

    BAD_SIGN = "bad_sign"  # 401: the sign does not match our username and API key
    NOT_ALLOWED = "not_allowed"  # 403: the caller's address is not in CALLBACK_ALLOWED_IPS
    MALFORMED = "malformed"  # 400: a body we cannot read or store
