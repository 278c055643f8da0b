"""The ref_ids a chat message names, for the "Check at IAK" message shortcut.

People paste ref_ids into prose ("cek ORD-77 sama ORD-78 ya"), so recognising them is a
guess, made in two steps: every word of the message that could be a ref_id is looked up
in the store, and the ones stored come first, on their own line (prepaid or postpaid);
then words that look like a ref_id although the bot never heard of them (no spaces,
4-64 characters, at least one digit), as prepaid top-ups. At most `MAX_CHECKED` are
checked: each one is a call to IAK.

A message can be 40,000 characters long: only its start is read, and only so many
distinct words are looked up, so that a pasted log costs one bounded, indexed read.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.iak.models import valid_ref_id
from bot.outcomes import Line

# Each one is a live call to IAK, and a card the person must read.
MAX_CHECKED = 5
# Of a long message, this much is read; ref_ids pasted for a check come early.
MAX_TEXT = 4000
# At most this many distinct words are looked up in the store.
MAX_WORDS = 50
# A word the bot never stored is taken for a ref_id only if it looks like one.
PLAUSIBLE_LENGTH = range(4, 65)

# Slack's own markup in a message's text: <https://…|label>, <@U…>, <#C…|name>, <!here>.
_MARKUP = re.compile(r"<([^<>]*)>")
# Words are split at spaces and at the commas and semicolons of a list ("ORD-77,ORD-78").
_SEPARATORS = re.compile(r"[\s,;]+")
# What prose puts around a word: quotes (phones type curly ones), brackets, mrkdwn
# emphasis, sentence punctuation.
_EDGES = "\"'`*_~()[]{}<>.:!?\u201c\u201d\u2018\u2019"
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Chosen:
    """The ref_ids to check, in order (stored ones first), and how many the message named
    in all (more than were chosen when it named more than `MAX_CHECKED`)."""

    ref_ids: tuple[tuple[str, Line], ...]
    named: int


def words(text: str) -> tuple[str, ...]:
    """Every distinct word of `text` that could be a ref_id, in order of appearance."""
    text = _MARKUP.sub(_label, text[:MAX_TEXT])
    found: dict[str, None] = {}
    for raw in _SEPARATORS.split(html.unescape(text)):
        word = raw.strip(_EDGES)
        if word and valid_ref_id(word):
            found.setdefault(word)
            if len(found) == MAX_WORDS:
                break
    return tuple(found)


def choose(candidates: tuple[str, ...], stored: Mapping[str, Line]) -> Chosen:
    """The stored ref_ids first, then the plausible ones, at most `MAX_CHECKED`."""
    known = [(word, stored[word]) for word in candidates if word in stored]
    guessed = [
        (word, Line.PREPAID)
        for word in candidates
        if word not in stored and len(word) in PLAUSIBLE_LENGTH and _DIGIT.search(word)
    ]
    named = known + guessed
    return Chosen(tuple(named[:MAX_CHECKED]), len(named))


def _label(match: re.Match[str]) -> str:
    """A link's label stays (`<https://dash/tx/ORD-77|ORD-77>` shows "ORD-77"); mentions,
    channels, special mentions and bare URLs name no ref_id."""
    target, bar, label = match.group(1).partition("|")
    if not bar or target[:1] in ("@", "#", "!"):
        return " "
    return f" {label} "
