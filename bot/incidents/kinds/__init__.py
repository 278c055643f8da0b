"""One module per kind of incident, named as its `IncidentKind`'s value.

A kind's module holds its figures (`DETAILS`, a `Details`) and thread replies (`REPLIES`),
the SQL that gathers what it needs, a pure `decide`, and `watch(context)`: what the monitor
runs each tick. Adding a kind is adding its module here, its renderer under
`bot.slack.alerts.kinds`, and its line in `IncidentKind`.
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType

from bot.incidents.model import SHARED_REPLIES, Details, IncidentKind, Reply


@cache
def module(kind: IncidentKind) -> ModuleType:
    """The module of one kind."""
    return importlib.import_module(f"{__name__}.{kind.value}")


def details_type(kind: IncidentKind) -> type[Details]:
    """The figures an incident of `kind` keeps."""
    details: type[Details] = module(kind).DETAILS
    return details


@cache
def reply_types() -> dict[str, type[Reply]]:
    """Every kind of thread reply, by the name the outbox stores."""
    replies: list[type[Reply]] = list(SHARED_REPLIES)
    for kind in IncidentKind:
        replies += module(kind).REPLIES
    return {reply.kind: reply for reply in replies}
