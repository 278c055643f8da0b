"""IAK's response-code registry."""

from bot.registry.lookup import (
    Empty,
    Found,
    Lookup,
    Matches,
    Registry,
    Unknown,
    line_named,
    normalize_rc,
)
from bot.registry.models import Action, Line, Link, Owner, Provenance, ResponseCode, Status, Table

__all__ = [
    "Action",
    "Empty",
    "Found",
    "Line",
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
    "line_named",
    "normalize_rc",
]
