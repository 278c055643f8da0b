"""What the "Check at IAK" message shortcut says besides the status cards it posts."""

from __future__ import annotations

from bot.i18n import _, ngettext
from bot.slack.blocks.markup import md
from bot.slack.blocks.text import Message, context, message, section


def nothing_to_check() -> Message:
    """The message named no ref_id: what the bot looks for, and the way to check by hand."""
    lead = _("I found no ref_id in this message.")
    how = _(
        "I look for the ref_ids the bot has stored, then for words that look like one: "
        "4-64 characters without spaces, with at least one digit (like ORD-77). Check one by "
        "hand with `/iak status <ref_id>`."
    )
    return message(f"{lead} {how}", [section(md(":mag: *{}*", lead)), context(how)])


def with_more_named(card: Message, *, checked: int, named: int) -> Message:
    """`card` (the last one posted) with a line saying the message named more ref_ids than
    were checked, and how to check the rest."""
    more = ngettext(
        "The message names {named} ref_id; the first {checked} were checked. Check the "
        "others with `/iak status <ref_id>`.",
        "The message names {named} ref_ids; the first {checked} were checked. Check the "
        "others with `/iak status <ref_id>`.",
        named,
    ).format(named=named, checked=checked)
    return message(card["text"], [*card["blocks"], context(more)])
