"""What every kind's renderer shares: how times, durations, customers and members are shown,
and the `Renderer` base a kind's renderer fills in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from bot.clock import wib_time
from bot.i18n import _, ngettext
from bot.incidents.kinds.product import Alternative
from bot.incidents.model import Incident, Reply, Resolved
from bot.masking import mask_customer_id
from bot.registry import Registry
from bot.slack.blocks.durations import duration
from bot.slack.blocks.markup import Mrkdwn, md
from bot.slack.blocks.text import Message, rupiah


def code_name(rc: str, registry: Registry) -> str:
    """A prepaid code as alerts name it: `07 FAILED`, or `rc 07` when the registry has no row."""
    code = registry.rc(rc)
    return f"{rc} {code.description}" if code else f"rc {rc}"


def price_list_not_cached() -> str:
    """What an alert says in place of the alternatives while no price list is cached."""
    return _(
        "IAK's price list is not cached yet: the bot is asking IAK, and the alternatives "
        "will show here. `/iak product <operator>` lists them now."
    )


def offered(alternatives: tuple[Alternative, ...]) -> str:
    """The alternatives an alert offers: `xld25 (Rp25.100), xld25b`."""
    return ", ".join(
        f"{alternative.code} ({rupiah(alternative.price)})"
        if alternative.price is not None
        else alternative.code
        for alternative in alternatives
    )


def lasting(seconds: float) -> str:
    """`2 h 5 min` for a number of seconds (payloads store seconds)."""
    return duration(timedelta(seconds=max(seconds, 0)))


def customer(value: str | None, mask: bool) -> str:
    """A customer number as alerts show it (masked unless MASK_CUSTOMER_ID is off)."""
    if not value:
        return "—"
    return mask_customer_id(value) if mask else value


def member_line(
    ref_id: str, product_code: str | None, customer_id: str | None, mask: bool
) -> Mrkdwn:
    """`ref_id` · product · customer."""
    return md("`{}` · {} · {}", ref_id, product_code or "?", customer(customer_id, mask))


@dataclass(frozen=True)
class View:
    """What a renderer draws with: the registry, whether customer numbers are masked, and
    who is on call (ONCALL_MENTION)."""

    registry: Registry
    mask: bool
    oncall: tuple[str, ...] = ()


class Renderer:
    """How one kind of incident looks. A kind's renderer draws its parent and its own
    replies; the rest has defaults that fit a kind counting failures."""

    # how the Home tab marks it
    emoji: ClassVar[str] = ":rotating_light:"
    # whether its parent offers "Recheck now"
    recheckable: ClassVar[bool] = False
    # a post, not trouble (the digest): its parent has no status line and no buttons
    plain_post: ClassVar[bool] = False

    def parent(self, incident: Incident, now: datetime, view: View) -> Message:
        """The parent message, as the incident stands now (buttons and status are added)."""
        raise NotImplementedError

    def reply(self, incident: Incident, reply: Reply, view: View) -> Message:
        """A thread reply of this kind's own."""
        raise ValueError(f"{incident.kind.value} incidents have no {reply.kind} reply")

    def title(self, incident: Incident, registry: Registry) -> str:
        """A line about it on the Home tab."""
        raise NotImplementedError

    def resolved(self, incident: Incident, reply: Resolved, lasted: str) -> str:
        """What the thread is told when it resolves."""
        raise ValueError(f"{incident.kind.value} incidents do not resolve with a reply")

    def changed_since_open(self, incident: Incident) -> str:
        """What an escalation says has happened since it opened."""
        return _("Open since {opened}.").format(opened=wib_time(incident.opened_at))

    def more_since(self, more: int) -> str:
        """How far its running figure went on during a mute."""
        return ngettext("{count} more failure since", "{count} more failures since", more).format(
            count=more
        )

    def mute_options(self, incident: Incident) -> list[tuple[str, str]]:
        """Extra mute choices (label, value suffix) beyond 1 h / 4 h / 24 h."""
        return []
