"""Texts the bot writes itself, in the language of the message being written.

Every sentence the bot writes goes through `_` (or `ngettext` when it depends on a
number) at the moment it is rendered, never at import time: the language is chosen per
message. Module-level constants are marked with `N_` and passed through `_` where they
are shown. Placeholders are named (`_("{count} failures").format(count=n)`) so that a
translation may move them. IAK's own descriptions and solutions are never passed here.

The catalogs are gettext's, managed with Babel (`scripts/i18n.sh` extracts, updates and
compiles them into `bot/locale`). The language is a context variable: `with language("id"):`
around the rendering of one message; the tasks a listener starts inherit it, so an answer
posted later is written in the language of the person who asked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Literal, get_args

from babel import Locale
from babel.support import NullTranslations, Translations

Language = Literal["en", "id"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "en"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"

_current: ContextVar[Language] = ContextVar("language", default=DEFAULT_LANGUAGE)


def current() -> Language:
    """The language of the message being written now."""
    return _current.get()


@contextmanager
def language(code: Language) -> Iterator[Language]:
    """Write everything inside in `code`; the language before is restored on leaving."""
    token = _current.set(code)
    try:
        yield code
    finally:
        _current.reset(token)


def use_language(code: Language) -> None:
    """Write in `code` for the rest of the current task: a Slack request's own task (each
    HTTP request and each Socket Mode message runs in one), and the tasks it starts."""
    _current.set(code)


def language_of_locale(slack_locale: str | None) -> Language | None:
    """Our language for a Slack locale (`id-ID` → id, `en-US`/`en-GB` → en); None for any
    other, which leaves the choice to BOT_LANGUAGE."""
    if not slack_locale:
        return None
    prefix = slack_locale.replace("_", "-").split("-", 1)[0].lower()
    for code in LANGUAGES:
        if prefix == code:
            return code
    return None


def babel_locale() -> Locale:
    """The Babel locale of the current language, for numbers and dates."""
    return _locale(current())


@cache
def _locale(code: Language) -> Locale:
    return Locale.parse(code)


@cache
def _translations(code: Language) -> NullTranslations:
    # English is the source language: its catalog is empty and every msgid is its own text.
    return Translations.load(str(LOCALE_DIR), [code], DOMAIN)


def _(message: str) -> str:
    """`message` in the current language."""
    return _translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message for `n`, in the current language."""
    return _translations(current()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a constant for extraction; translate it with `_` where it is shown."""
    return message
