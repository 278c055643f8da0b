"""How the daily digest looks: its message (`bot.slack.blocks.digest`) and the note on its
chart."""

from __future__ import annotations

from datetime import datetime

from bot.incidents.kinds.digest import DigestChart, DigestDetails
from bot.incidents.model import Incident, Reply
from bot.registry import Registry
from bot.slack.alerts.common import Renderer, View
from bot.slack.blocks.digest import chart_note, digest_message, digest_title
from bot.slack.blocks.text import Message


class DigestRenderer(Renderer):
    """How one WIB day went (a post, never an open incident)."""

    emoji = ":bar_chart:"
    plain_post = True

    def parent(self, incident: Incident, now: datetime, view: View) -> Message:
        assert isinstance(incident.details, DigestDetails)
        return digest_message(incident.details, view.registry)

    def reply(self, incident: Incident, reply: Reply, view: View) -> Message:
        if isinstance(reply, DigestChart):
            assert isinstance(incident.details, DigestDetails)
            return chart_note(incident.details)
        return super().reply(incident, reply, view)

    def title(self, incident: Incident, registry: Registry) -> str:
        assert isinstance(incident.details, DigestDetails)
        return digest_title(incident.details)


RENDERER = DigestRenderer()
