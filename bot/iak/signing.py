"""IAK's request signature: md5(username + api_key + X) as lowercase hex."""

from __future__ import annotations

import hashlib
import hmac

BALANCE_SUFFIX = "bl"
PRICE_LIST_SUFFIX = "pl"
# Postpaid check-status signs this constant, not the ref_id as prepaid does.
POSTPAID_CHECK_STATUS_SUFFIX = "cs"


def sign(username: str, api_key: str, suffix: str) -> str:
    """The `sign` for a request: suffix is the ref_id (prepaid top-up, check-status), `bl`
    (balance), `pl` (price lists) or `cs` (postpaid check-status)."""
    digest = hashlib.md5((username + api_key + suffix).encode(), usedforsecurity=False)
    return digest.hexdigest()


def verify(username: str, api_key: str, ref_id: str, given: object) -> bool:
    """Whether a callback's `sign` is right, compared in constant time."""
    if not isinstance(given, str):
        return False
    expected = sign(username, api_key, ref_id)
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())
