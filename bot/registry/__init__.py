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
from bot.registry.models import (
    Action,
    Line,
    Link,
    Owner,
    Provenance,
    Resend,
    ResponseCode,
    SeenAs,
    Sold,
    Status,
    Table,
    resend_rule_offences,
)

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
    "Resend",
    "ResponseCode",
    "SeenAs",
    "Sold",
    "Status",
    "Table",
    "Unknown",
    "line_named",
    "normalize_rc",
    "resend_rule_offences",
]
