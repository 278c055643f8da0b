"""Rows the seed lacks come word for word from IAK's reference documentation."""

from __future__ import annotations

from bot.registry import Action, Provenance, Registry, Table
from tests.seed import PREPAID_REFERENCE, reference_rows, seed_rows


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
