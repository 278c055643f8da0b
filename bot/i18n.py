"""Texts the bot writes itself, marked for translation (issue 15 point 1).

Every sentence the bot writes goes through `_` (or `ngettext` when it depends on a
number) at the moment it is rendered, never at import time: the language is chosen per
message. Module-level constants are marked with `N_` and passed through `_` where they
are shown. Placeholders are named (`_("{count} failures").format(count=n)`) so that a
translation may move them. IAK's own descriptions and solutions are never passed here.

The catalogs (Babel, gettext) plug in behind these three names; until they do, English
is returned as written.
"""

from __future__ import annotations


def _(message: str) -> str:
    """`message` in the current language."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message for `n`, in the current language."""
    return singular if n == 1 else plural


def N_(message: str) -> str:
    """Marks a constant for extraction; translate it with `_` where it is shown."""
    return message
