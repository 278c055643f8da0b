"""Customer data shown in Slack or logs is masked: numbers and PLN tokens are sensitive."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\d")


def mask_customer_id(value: str | None) -> str:
    """`0817777215` → `0817***215`: enough to recognise, not enough to reuse."""
    if not value:
        return "—"
    value = value.strip()
    if len(value) >= 8:
        return f"{value[:4]}***{value[-3:]}"
    if len(value) >= 4:
        return f"{value[:2]}***{value[-1:]}"
    return "***"


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
    name is cut to its initial; the segment and power stay.
    """
    if not value:
        return "—"
    first, *rest = value.split("/")
    if len(_DIGITS.findall(first)) >= 12:
        masked = _keep_digits(first, keep_first=4, keep_last=4)
    elif len(first) > 6:
        masked = f"{first[:3]}***{first[-3:]}"
    else:
        masked = first
    if rest and len(rest[0].strip()) > 1:
        rest[0] = rest[0].strip()[0] + "***"
    return "/".join([masked, *rest])


def _keep_digits(text: str, *, keep_first: int, keep_last: int) -> str:
    total = len(_DIGITS.findall(text))
    seen = 0
    out = []
    for char in text:
        if char.isdigit():
            seen += 1
            out.append(char if seen <= keep_first or seen > total - keep_last else "•")
        else:
            out.append(char)
    return "".join(out)
