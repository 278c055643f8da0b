"""`/iak code <query>` semantics: normalisation, HTTP statuses, search, unknown codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.registry import Empty, Found, Line, Matches, Registry, Table, Unknown, normalize_rc


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
    best = result.codes[0] if isinstance(result, Matches) else result.code  # type: ignore[union-attr]
    assert best.key == first


def test_a_search_with_one_match_answers_with_its_card(registry: Registry) -> None:
    result = registry.lookup("whitelist")
    assert isinstance(result, Found)
    assert result.code.key == "206"
    assert result.note == "The only code matching “whitelist”:"


def test_search_covers_both_tables(registry: Registry) -> None:
    result = registry.lookup("deposit")
    assert isinstance(result, Matches)
    # the prepaid row names it in its description, the postpaid one only in its solution
    assert [entry.key for entry in result.codes] == ["17", "postpaid 17"]
    duplicate = registry.lookup("duplicate ref")
    assert isinstance(duplicate, Matches)
    assert duplicate.codes[0].key == "postpaid 11"


def test_search_ranks_description_matches_above_solution_matches(registry: Registry) -> None:
    keys = [entry.key for entry in registry.search("blocked")]
    in_description = ["13", "131", "206", "postpaid 08", "postpaid 13"]
    assert keys[:5] == in_description
    # 206's solution says "blocked" too, but these all have it in the description;
    # codes that only mention it in their solution come after them.
    assert set(keys[5:]).isdisjoint(in_description)


def test_search_corrects_a_typo(registry: Registry) -> None:
    result = registry.lookup("depost")
    assert isinstance(result, Matches)
    assert result.corrected == "deposit"
    assert result.codes[0].key == "17"


def test_unknown_code_offers_the_closest_codes(registry: Registry) -> None:
    result = registry.lookup("22")
    assert isinstance(result, Unknown)
    assert result.line is None  # in neither table
    assert [entry.key for entry in result.suggestions][:2] == ["21", "20"]


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("postpaid 11", "postpaid 11"),
        ("pp 11", "postpaid 11"),
        ("PP 6", "postpaid 06"),
        ("pp:06", "postpaid 06"),
        ("postpaid rc 100", "postpaid 100"),
        ("pp 0109", "postpaid 109"),
        ("pp inquiry id", "postpaid 06"),
        ("prepaid 06", "06"),
    ],
)
def test_postpaid_codes_are_asked_for_by_name(registry: Registry, query: str, key: str) -> None:
    result = registry.lookup(query)
    best = result.codes[0] if isinstance(result, Matches) else result.code  # type: ignore[union-attr]
    assert best.key == key


def test_a_number_only_the_postpaid_table_knows_answers_from_it(registry: Registry) -> None:
    result = registry.lookup("11")
    assert isinstance(result, Found)
    assert result.code.key == "postpaid 11"
    assert result.note == "11 is not a prepaid response code; IAK's postpaid table has it:"
    # asked for prepaid by name, it is not there
    prepaid = registry.lookup("prepaid 11")
    assert isinstance(prepaid, Unknown)
    assert prepaid.line is Line.PREPAID


def test_postpaid_unknowns_suggest_postpaid_codes(registry: Registry) -> None:
    result = registry.lookup("pp 99")
    assert isinstance(result, Unknown)
    assert result.line is Line.POSTPAID
    assert {entry.table for entry in result.suggestions} == {Table.POSTPAID}
    words = registry.lookup("pp zebra")
    assert isinstance(words, Unknown)
    assert words.line is Line.POSTPAID


def test_postpaid_alone_asks_which_code(registry: Registry) -> None:
    assert registry.lookup("pp") == Empty(Line.POSTPAID)
    assert registry.lookup("postpaid") == Empty(Line.POSTPAID)


@pytest.mark.parametrize(
    ("number", "prepaid", "postpaid"),
    [
        ("06", "TRANSACTION NOT FOUND", "INQUIRY ID NOT FOUND"),
        (
            "10",
            "REACH TOP UP LIMIT USING SAME DESTINATION NUMBER IN 1 DAY",
            "BILL IS NOT AVAILABLE",
        ),
    ],
)
def test_a_number_that_means_something_else_in_the_other_table_names_it(
    registry: Registry, number: str, prepaid: str, postpaid: str
) -> None:
    result = registry.lookup(number)
    assert isinstance(result, Found)
    assert result.code.description == prepaid
    assert result.homonym is not None
    assert result.homonym.description == postpaid
    other = registry.lookup(f"pp {number}")
    assert isinstance(other, Found)
    assert other.homonym is not None
    assert other.homonym.description == prepaid


def test_numbers_that_mean_the_same_in_both_tables_need_no_note(registry: Registry) -> None:
    shared = {entry.code for entry in registry.response_codes(Line.POSTPAID)} & {
        entry.code for entry in registry.response_codes(Line.PREPAID)
    }
    assert {"17", "39", "102", "118"} <= shared
    with_homonym = {code for code in shared if registry.homonym(registry.rc(code))}  # type: ignore[arg-type]
    assert with_homonym == {"06", "10"}


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
    assert registry.rc("143").table is Table.GAME  # type: ignore[union-attr]
    assert registry.http_status(503).code == "OTHER"
    assert registry.http_status(400).code == "400"


def test_rc_lookup_for_postpaid_answers(registry: Registry) -> None:
    # postpaid answers carry `response_code`; the same numbers, IAK's postpaid table
    assert registry.rc("6", line=Line.POSTPAID).key == "postpaid 06"  # type: ignore[union-attr]
    assert registry.rc("11", line=Line.POSTPAID).key == "postpaid 11"  # type: ignore[union-attr]
    assert registry.rc("11") is None
    assert registry.rc("400", line=Line.POSTPAID) is None
    assert registry.get("postpaid 11") is registry.rc("11", line=Line.POSTPAID)


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
        "   action: panic, owner: us, stops_sales: true,"
        " sold: 'no', resend: new_ref_id, advice: Z}\n",
        "utf-8",
    )
    with pytest.raises(ValidationError, match="action"):
        Registry.load(bad)
    duplicate = tmp_path / "dup.yaml"
    row = (
        "- {code: '17', table: prepaid, description: X, status: Failed, solution: Y,"
        " action: retry_now, owner: us, stops_sales: true,"
        " sold: 'no', resend: new_ref_id, advice: Z}\n"
    )
    duplicate.write_text("codes:\n" + row + row, "utf-8")
    with pytest.raises(ValidationError, match="appears twice"):
        Registry.load(duplicate)


def test_a_number_in_both_tables_must_say_whether_it_means_the_same(tmp_path: Path) -> None:
    prepaid = (
        "- {code: '17', table: prepaid, description: X, status: Failed, solution: Y,"
        " action: top_up_deposit, owner: us, stops_sales: true,"
        " sold: 'no', resend: new_ref_id, advice: Z}\n"
    )
    postpaid = (
        "- {code: '17', table: postpaid, source: reference, description: X, status: Failed,"
        " solution: Y, action: top_up_deposit, owner: us, stops_sales: true,"
        " sold: 'no', resend: new_ref_id, advice: Z"
    )
    unjudged = tmp_path / "unjudged.yaml"
    unjudged.write_text("codes:\n" + prepaid + postpaid + "}\n", "utf-8")
    with pytest.raises(ValidationError, match="say same_as_prepaid"):
        Registry.load(unjudged)
    judged = tmp_path / "judged.yaml"
    judged.write_text("codes:\n" + prepaid + postpaid + ", same_as_prepaid: true}\n", "utf-8")
    both = Registry.load(judged)
    # one number, two rows: each line finds its own
    assert both.rc("17") is not both.rc("17", line=Line.POSTPAID)
    seedless = tmp_path / "seedless.yaml"
    seedless.write_text("codes:\n" + postpaid.replace("source: reference, ", "") + "}\n", "utf-8")
    with pytest.raises(ValidationError, match="no postpaid table"):
        Registry.load(seedless)
