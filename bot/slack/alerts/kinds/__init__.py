"""One renderer per kind of incident, in a module named as its `IncidentKind`'s value (as
`bot.incidents.kinds` has one for what it decides): each exports `RENDERER`."""

from __future__ import annotations

import importlib
from functools import cache

from bot.incidents.model import IncidentKind
from bot.slack.alerts.common import Renderer


@cache
def renderer(kind: IncidentKind) -> Renderer:
    """How incidents of `kind` look."""
    found: Renderer = importlib.import_module(f"{__name__}.{kind.value}").RENDERER
    return found
