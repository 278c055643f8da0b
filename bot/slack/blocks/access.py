"""The answer to someone ALLOWED_USERS / ALLOWED_CHANNELS leave out."""

from __future__ import annotations

from bot.i18n import N_, _
from bot.slack.blocks.text import Message, context, message, section

REFUSED_TEXT = N_(
    "Sorry, I only show transaction details to the ops team, in its channels. "
    "`/iak code <code>` and `/iak codes` work for everyone, anywhere; if you need access, "
    "ask whoever runs this bot."
)


def access_refused() -> Message:
    """A polite no that names nothing: not who is allowed, where, nor what was asked for."""
    refused = _(REFUSED_TEXT)
    return message(
        refused,
        [
            section(f":lock: {refused}"),
            context(_("Transaction details are customer data, so this bot limits who sees them.")),
        ],
    )
