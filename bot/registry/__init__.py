"""IAK's response-code registry."""

from bot.registry.lookup import Empty, Found, Lookup, Matches, Registry, Unknown, normalize_rc
from bot.registry.models import Action, Link, Owner, ResponseCode, Status, Table

__all__ = [
    "Action",
    "Empty",
    "Found",
    "Link",
    "Lookup",
    "Matches",
    "Owner",
    "Registry",
    "ResponseCode",
    "Status",
    "Table",
    "Unknown",
    "normalize_rc",
]
