"""What a person may type as a search (`/iak product …`, `/iak code <words>`, and the
terminal's `product` and `code`): bounded, so that no query can hold a worker. A search
weighs every word of the query against every entry of a list that can be thousands long:
a 4,000-character query kept a worker busy for seconds, past Slack's 3 s."""

from __future__ import annotations

from bot.i18n import _

MAX_SEARCH_CHARACTERS = 100
MAX_SEARCH_WORDS = 8


def search_too_long(query: str) -> bool:
    """Whether a typed search is past what the bot searches for."""
    return len(query) > MAX_SEARCH_CHARACTERS or len(query.split()) > MAX_SEARCH_WORDS


def search_too_long_note() -> str:
    """What someone whose search is too long reads, in their language."""
    return _(
        "That is too long to search: use at most {characters} characters and {words} words."
    ).format(characters=MAX_SEARCH_CHARACTERS, words=MAX_SEARCH_WORDS)
