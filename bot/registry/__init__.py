"""IAK's response-code registry."""

from bot.registry.lookup import Empty, Found, Lookup, Matches, Registry, Unknown, normalize_rc
from bot.registry.models import Action, Link, Owner, Provenance, ResponseCode, Status, Table

__all__ = [
    "Action",
    "Empty",
    "Found",
    "Link",
    "Lookup",
    "Matches",
    "Owner",
    "Provenance",
    "Registry",
    "ResponseCode",
    "Status",
    "Table",
    "Unknown",
    "normalize_rc",
]
