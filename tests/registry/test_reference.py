"""Rows the seed lacks come word for word from IAK's reference documentation."""

from __future__ import annotations

from bot.registry import Action, Line, Provenance, Registry, Table
from tests.support.seed import (
    POSTPAID_REFERENCE,
    PREPAID_REFERENCE,
    SeedRow,
    reference_rows,
    seed_rows,
)


def test_118_is_word_for_word_from_the_prepaid_reference_page(registry: Registry) -> None:
    (row,) = [row for row in reference_rows(PREPAID_REFERENCE, "prepaid") if row.code == "118"]
    code = registry.rc("118")
    assert code is not None
    assert code.table is Table.PREPAID
    assert code.source is Provenance.REFERENCE
    assert (code.description, code.status.value, code.solution) == (
        row.description,
        row.status,
        row.solution,
    )
    assert row.description == "ACCOUNT SUSPENDED"  # the copy is the page that added it


def test_118_is_newer_than_the_seed(registry: Registry) -> None:
    assert "118" not in {row.code for row in seed_rows()}


def test_118_stops_sales_and_gives_iaks_contact(registry: Registry) -> None:
    code = registry.rc("118")
    assert code is not None
    assert code.stops_sales
    assert code.action is Action.CONTACT_IAK
    assert "cs@mobilepulsa.com" in code.advice
    assert "(021) 3042 9884" in code.advice


def test_the_postpaid_table_is_iaks_row_by_row(registry: Registry) -> None:
    rows = reference_rows(POSTPAID_REFERENCE, "postpaid")
    assert len(rows) == 48
    ours = [
        SeedRow(
            entry.table.value, entry.code, entry.description, entry.status.value, entry.solution
        )
        for entry in registry.response_codes(Line.POSTPAID)
    ]
    assert ours == rows
    assert all(
        entry.source is Provenance.REFERENCE for entry in registry.response_codes(Line.POSTPAID)
    )


def test_postpaid_codes_are_their_own_table(registry: Registry) -> None:
    # The same numbers as prepaid codes, other meanings: each is found in its own table.
    assert registry.rc("06").description == "TRANSACTION NOT FOUND"  # type: ignore[union-attr]
    postpaid = {
        code: registry.rc(code, line=Line.POSTPAID).description  # type: ignore[union-attr]
        for code in ("05", "06", "11", "100", "109")
    }
    assert postpaid == {
        "05": "UNDEFINED ERROR",
        "06": "INQUIRY ID NOT FOUND",
        "11": "DUPLICATE REF ID",
        "100": "INVALID SIGNATURE",
        "109": "SYSTEM CUT OFF",
    }
    assert registry.rc("11") is None  # no prepaid 11
    assert registry.rc("143", line=Line.POSTPAID) is None  # the game code is prepaid's
