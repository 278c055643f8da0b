"""The catalogs: every text the bot writes is extracted, translated into Indonesian with its
placeholders and markup intact, and compiled; and the code keeps the catalogs able to see it."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from string import Formatter

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from bot.config import ConfigError, load_settings
from bot.i18n import LOCALE_DIR, _, language, language_of_locale, ngettext

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("en", "id")


def po(lang: str) -> Catalog:
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po", "rb") as file:
        return read_po(file)


def mo(lang: str) -> Catalog:
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / "messages.mo", "rb") as file:
        return read_mo(file)


def ids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {message.id for message in catalog if message.id}


def translated(catalog: Catalog) -> Iterator[Message]:
    return (message for message in catalog if message.id)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The catalog as the code and the registry stand now, extracted the way
    scripts/i18n.sh does it."""
    out = tmp_path_factory.mktemp("extract") / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "--no-location",
            "-o",
            str(out),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with open(out, "rb") as file:
        return read_po(file)


def test_the_committed_catalogs_hold_every_text_the_code_marks(extracted: Catalog) -> None:
    """A text marked with `_` but not in the catalogs: run scripts/i18n.sh and translate it."""
    with open(LOCALE_DIR / "messages.pot", "rb") as file:
        template = read_po(file)
    assert ids(extracted) == ids(template), "bot/locale/messages.pot is stale: scripts/i18n.sh"
    for lang in LANGUAGES:
        assert ids(extracted) == ids(po(lang)), f"{lang}/messages.po is stale: scripts/i18n.sh"


def test_our_advice_on_every_code_is_in_the_catalog(extracted: Catalog) -> None:
    from bot.registry import Registry

    for code in Registry.load():
        assert code.advice in extracted, code.key
        # IAK's own words are never translated
        assert code.solution not in extracted, code.key


def test_every_text_has_an_indonesian_translation() -> None:
    missing = [
        message.id
        for message in translated(po("id"))
        if message.fuzzy
        or not all(message.string if isinstance(message.string, tuple) else [message.string])
    ]
    assert missing == []


def _key(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def _done(catalog: Catalog) -> dict[object, object]:
    """What the catalog changes: its translations that differ from the English (an empty one
    falls back to English, and Babel compiles an untranslated plural as its English forms)."""
    done = {}
    for message in translated(catalog):
        key, text = _key(message.id), _key(message.string)
        if text in (key, "", ("",), ("", "")):
            continue
        done[key] = text
    return done


def test_the_compiled_catalogs_match_their_sources() -> None:
    for lang in LANGUAGES:
        assert _done(mo(lang)) == _done(po(lang)), f"{lang}/messages.mo is stale: scripts/i18n.sh"


def fields(text: str) -> set[str]:
    return {parsed[1] for parsed in Formatter().parse(text) if parsed[1] is not None}


def _broken_markup(message: Message) -> str | None:
    """What a translation lost of its English source's placeholders and markup, if anything."""
    source = message.id[-1] if isinstance(message.id, tuple) else message.id
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    for text in strings:
        if fields(text) != fields(source):
            return f"placeholders {sorted(fields(text))} != {sorted(fields(source))}"
        # code spans and bold stay paired as in English
        for mark, name in (("`", "code spans"), ("*", "bold"), ("\n", "line breaks")):
            if text.count(mark) != source.count(mark):
                return f"{name}: {text.count(mark)} != {source.count(mark)}"
    return None


def test_every_translation_keeps_the_placeholders_and_markup() -> None:
    broken = {
        str(message.id)[:60]: problem
        for message in translated(po("id"))
        if (problem := _broken_markup(message)) is not None
    }
    assert broken == {}


def test_english_is_the_source_and_indonesian_is_real() -> None:
    with language("en"):
        assert _("Failed") == "Failed"
        assert ngettext("{count} attempt", "{count} attempts", 2) == "{count} attempts"
    with language("id"):
        assert _("Failed") == "Gagal"
        assert _("Pending") == "Pending"
        assert _("Top up the deposit") == "Isi ulang deposit"
        assert ngettext("{count} attempt", "{count} attempts", 2) == "{count} percobaan"
    assert _("Failed") == "Failed"  # the language is restored on leaving


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("id-ID", "id"), ("en-US", "en"), ("en-GB", "en"), ("ja-JP", None), ("", None)],
)
def test_which_slack_locales_the_bot_speaks(locale: str, expected: str | None) -> None:
    assert language_of_locale(locale) == expected


def test_bot_language_is_en_or_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_LANGUAGE", "ID")
    assert load_settings(_env_file=None).bot_language == "id"
    monkeypatch.delenv("BOT_LANGUAGE")
    assert load_settings(_env_file=None).bot_language == "en"
    monkeypatch.setenv("BOT_LANGUAGE", "fr")
    with pytest.raises(ConfigError) as refused:
        load_settings(_env_file=None)
    assert "BOT_LANGUAGE" in str(refused.value) and "'fr'" in str(refused.value)


def modules() -> list[Path]:
    return sorted((ROOT / "bot").rglob("*.py"))


TRANSLATORS = {"_", "ngettext", "N_"}


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_texts_are_marked_where_the_extractor_can_see_them() -> None:
    """Babel reads an f-string as one token on Python 3.11: a `_("…")` inside one is never
    extracted, so its text would silently stay English."""
    hidden: dict[str, list[int]] = {}
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        lines = [
            node.lineno
            for joined in ast.walk(tree)
            if isinstance(joined, ast.JoinedStr)
            for node in ast.walk(joined)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in TRANSLATORS
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ]
        if lines:
            hidden[_relative(path)] = lines
    assert hidden == {}


def _imports_underscore(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "bot.i18n"
        and any(alias.name == "_" for alias in node.names)
        for node in ast.walk(tree)
    )


def test_no_module_that_translates_rebinds_underscore() -> None:
    """`first, _, rest = …` in a module that imports `_` would make the next `_("…")` fail."""
    rebound: dict[str, list[int]] = {}
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if not _imports_underscore(tree):
            continue
        lines = [
            node.lineno
            for node in ast.walk(tree)
            if (isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store))
            or (isinstance(node, ast.arg) and node.arg == "_")
        ]
        if lines:
            rebound[_relative(path)] = lines
    assert rebound == {}
