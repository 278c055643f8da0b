"""Customer data shown in Slack or logs is masked: numbers and PLN tokens are sensitive."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\d")


def visible_ends(length: int) -> tuple[int, int]:
    """How many characters a mask of a value this long keeps at its start and its end:
    at most half of them in all (the end weighs more: it is what people compare), and never
    more than four and three."""
    shown = length // 2
    last = min(3, (shown + 1) // 2)
    return min(4, shown - last), last


def mask_customer_id(value: str | None) -> str:
    """`0817777215` → `08***215`: enough to recognise, not enough to reuse (at least half
    of it hidden)."""
    if not value:
        return "—"
    value = value.strip()
    if len(value) < 4:
        return "***"
    first, last = visible_ends(len(value))
    return f"{value[:first]}***{value[-last:]}"


def mask_name(value: str | None) -> str:
    """`BUDI SANTOSO` → `B*** S***`: a postpaid bill's account name, recognisable by its
    initials only (the same as a PLN serial's name)."""
    if not value or not value.strip():
        return "—"
    return " ".join(f"{word[0]}***" for word in value.split())


def mask_serial(value: str | None) -> str:
    """A serial number with its digits mostly hidden.

    For PLN the serial is `token/customer name/segment power` and the token itself buys
    electricity, so only its first and last four digits stay visible, and the customer's
    name is cut to its initial; the segment and power stay. Any other serial keeps at most
    half of its characters.
    """
    if not value:
        return "—"
    first, *rest = value.split("/")
    if len(_DIGITS.findall(first)) >= 12:
        # a token's groups and separators stay in place; a quarter at each end at most
        keep = min(4, sum(char.isalnum() for char in first) // 4)
        masked = _keep_ends(first, keep_first=keep, keep_last=keep)
    elif len(first) >= 4:
        start, end = visible_ends(len(first))
        masked = f"{first[:start]}***{first[-end:]}"
    else:
        masked = first  # IAK's placeholders: "-", "0"
    if rest and len(rest[0].strip()) > 1:
        rest[0] = rest[0].strip()[0] + "***"
    return "/".join([masked, *rest])


def _keep_ends(text: str, *, keep_first: int, keep_last: int) -> str:
    """`text` with its letters and digits hidden but the first and last few."""
    total = sum(char.isalnum() for char in text)
    seen = 0
    out = []
    for char in text:
        if char.isalnum():
            seen += 1
            out.append(char if seen <= keep_first or seen > total - keep_last else "•")
        else:
            out.append(char)
    return "".join(out)
