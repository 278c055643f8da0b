"""`/iak code <query>` semantics: normalisation, HTTP statuses, search, unknown codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.registry import Empty, Found, Matches, Registry, Unknown, normalize_rc


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("17", "17"),
        ("6", "06"),
        ("06", "06"),
        ("0", "00"),
        ("00", "00"),
        ("000", "00"),
        ("017", "17"),
        ("  39  ", "39"),
        ("0102", "102"),
        ("rc 17", "17"),
        ("RC:6", "06"),
        ("143", "143"),
        ("400", "400"),
        ("200", "200"),
        ("http 400", "400"),
        ("HTTP 200", "200"),
        ("http 503", "OTHER"),
        ("http 404", "OTHER"),
        ("http 302", "OTHER"),
        ("other", "OTHER"),
        ("OTHER", "OTHER"),
    ],
)
def test_lookup_finds_the_code(registry: Registry, query: str, code: str) -> None:
    result = registry.lookup(query)
    assert isinstance(result, Found)
    assert result.code.code == code


def test_a_bare_http_status_that_is_no_rc_reads_as_other(registry: Registry) -> None:
    result = registry.lookup("503")
    assert isinstance(result, Found)
    assert result.code.code == "OTHER"
    assert result.note is not None
    assert "503 is not an IAK response code" in result.note


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("deposit", "17"),
        ("ip", "102"),
        ("maintenance", "110"),
        ("not found", "06"),
        ("blocked number", "13"),
        ("deposits", "17"),
        ("whitelist", "206"),
        ("e-sim", "18"),
    ],
)
def test_search_puts_the_best_match_first(registry: Registry, query: str, first: str) -> None:
    result = registry.lookup(query)
    assert isinstance(result, Matches)
    assert result.codes[0].code == first


def test_search_ranks_description_matches_above_solution_matches(registry: Registry) -> None:
    codes = [entry.code for entry in registry.search("blocked")]
    assert codes[:3] == ["13", "131", "206"]
    # 206's solution says "blocked" too, but 13, 131 and 206 all have it in the description;
    # codes that only mention it in their solution come after them.
    assert set(codes[3:]).isdisjoint({"13", "131", "206"})


def test_search_corrects_a_typo(registry: Registry) -> None:
    result = registry.lookup("depost")
    assert isinstance(result, Matches)
    assert result.corrected == "deposit"
    assert result.codes[0].code == "17"


def test_unknown_code_offers_the_closest_codes(registry: Registry) -> None:
    result = registry.lookup("08")
    assert isinstance(result, Unknown)
    assert [entry.code for entry in result.suggestions][:2] == ["07", "06"]


def test_unknown_words_say_nothing_matches(registry: Registry) -> None:
    result = registry.lookup("zebra xylophone")
    assert isinstance(result, Unknown)
    assert result.suggestions == ()


def test_empty_query(registry: Registry) -> None:
    assert isinstance(registry.lookup("   "), Empty)


def test_rc_lookup_for_iak_answers(registry: Registry) -> None:
    assert registry.rc("6").code == "06"  # type: ignore[union-attr]
    assert registry.rc(0).code == "00"  # type: ignore[union-attr]
    assert registry.rc("400") is None  # HTTP rows are not response codes
    assert registry.rc("999") is None
    assert registry.rc(None) is None
    assert registry.http_status(503).code == "OTHER"
    assert registry.http_status(400).code == "400"


@pytest.mark.parametrize(
    ("text", "normal"),
    [("6", "06"), ("0", "00"), ("017", "17"), ("abc", None), ("", None), ("١٧", None)],
)
def test_normalize_rc(text: str, normal: str | None) -> None:
    assert normalize_rc(text) == normal


def test_the_data_file_is_validated(tmp_path: Path) -> None:
    bad = tmp_path / "codes.yaml"
    bad.write_text(
        "codes:\n"
        "- {code: '17', table: prepaid, description: X, status: Failed, solution: Y,\n"
        "   action: panic, owner: us, stops_sales: true, advice: Z}\n",
        "utf-8",
    )
    with pytest.raises(ValidationError, match="action"):
        Registry.load(bad)
    duplicate = tmp_path / "dup.yaml"
    row = (
        "- {code: '17', table: prepaid, description: X, status: Failed, solution: Y,"
        " action: retry_now, owner: us, stops_sales: true, advice: Z}\n"
    )
    duplicate.write_text("codes:\n" + row + row, "utf-8")
    with pytest.raises(ValidationError, match="appears twice"):
        Registry.load(duplicate)
