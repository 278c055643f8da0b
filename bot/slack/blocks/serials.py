"""The answers to a status card's Show SN button.

Cards mask a serial number: a PLN token buys electricity, a voucher's code tops up a phone,
whoever reads them. When a customer says the top-up never arrived, ops need it whole: Show
SN gives it to the person who pressed it alone, read from the bot's store (the button names
only the transaction).
"""

from __future__ import annotations

from bot.i18n import _
from bot.slack.blocks.markup import md
from bot.slack.blocks.text import Message, context, message, section, truncate

SHOW_SERIAL_ACTION = "show_serial"


def serial_shown(ref_id: str, serial: str, product_code: str | None) -> Message:
    """The serial number of `ref_id` whole, exactly as IAK sent it (for an ephemeral answer)."""
    title = _("SN of {ref_id}").format(ref_id=ref_id)
    # In a code span it reads digit by digit; a backtick in it would end the span early.
    shown = md("`{}`", serial) if "`" not in serial else md("{}", serial)
    product = _("Product: {product}").format(product=product_code or "—")
    private = _(
        "Only you can see this message. The bot's log records that you asked for this "
        "ref_id's SN, never the SN itself."
    )
    return message(
        f"{title}: {serial}",
        [section(md("*{}*\n{}", title, shown)), context(product), context(private)],
    )


def serial_refused() -> Message:
    """Someone who may see transactions, but not a serial number whole."""
    text = _(
        "Only the bot's admins can see a serial number (SN) whole. The card shows it masked; "
        "if the customer needs it, ask one of them."
    )
    return message(text, [section(f":lock: {text}")])


def serial_unknown(ref_id: str) -> Message:
    """A ref_id the bot holds no transaction for (never heard of, or no longer kept)."""
    text = _("The bot has no record of {ref_id}, so it has no SN to show.").format(
        ref_id=truncate(ref_id, 100)
    )
    return message(text, [section(text)])


def serial_missing(ref_id: str) -> Message:
    """A transaction the bot knows, with no serial number to show."""
    text = _(
        "The bot holds no SN for {ref_id}: it has not succeeded, or IAK sent none with it."
    ).format(ref_id=ref_id)
    return message(text, [section(text)])
