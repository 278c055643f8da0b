"""The Indonesian catalog speaks as ops do: every translation follows docs/glossary.id.yaml."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.i18n import LOCALE_DIR

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "docs" / "glossary.id.yaml"
# What is not prose: `code spans` (commands, settings), {placeholders} and URLs.
_NOT_PROSE = re.compile(r"`[^`]*`|\{[^}]*\}|https?://\S+")


def glossary() -> list[dict[str, Any]]:
    terms: list[dict[str, Any]] = yaml.safe_load(GLOSSARY.read_text("utf-8"))["terms"]
    return terms


def indonesian() -> Catalog:
    with open(LOCALE_DIR / "id" / "LC_MESSAGES" / "messages.po", "rb") as file:
        return read_po(file)


def texts(catalog: Catalog) -> list[tuple[str, str]]:
    """(English, Indonesian) for every text, each plural form on its own."""
    pairs: list[tuple[str, str]] = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        pairs.extend((ids[min(index, len(ids) - 1)], text) for index, text in enumerate(strings))
    return pairs


def whole_word(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(word) + r"(?!\w)", re.IGNORECASE)


def test_every_translation_uses_the_glossarys_words() -> None:
    wrong: list[str] = []
    pairs = texts(indonesian())
    for term in glossary():
        applies = re.compile(term["en"], re.IGNORECASE) if "en" in term else None
        used = term["id"].lower()
        avoided = [whole_word(word) for word in term.get("avoid", [])]
        for english, translation in pairs:
            prose = _NOT_PROSE.sub(" ", english)
            if applies is not None and applies.search(prose) and used not in translation.lower():
                wrong.append(f"{english!r} → {translation!r}: says no {term['id']!r}")
            for pattern in avoided:
                if pattern.search(_NOT_PROSE.sub(" ", translation)):
                    wrong.append(f"{translation!r}: {pattern.pattern!r}")
    assert wrong == []


def test_the_glossary_names_what_the_issue_found() -> None:
    words = {term["id"] for term in glossary()}
    assert {"pending", "SN", "mute", "saldo akhir", "tim kita", "pascabayar"} <= words
    assert {"transaksi dobel", "dirugikan"} <= words
