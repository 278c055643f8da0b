"""The registry holds IAK's tables word for word, and our judgement on top is consistent."""

from __future__ import annotations

import re

from bot.registry import Action, Line, Provenance, Registry, Sold, Status, Table
from tests.support.seed import seed_rows


def test_every_seed_row_is_in_the_registry_word_for_word(registry: Registry) -> None:
    rows = seed_rows()
    assert len(rows) == 36  # 3 HTTP rows, 32 prepaid codes, game code 143
    for row in rows:
        key = row.code.split(" - ")[0]
        entry = registry.get(key)
        assert entry is not None, f"seed row {row.code} missing"
        assert entry.source is Provenance.SEED
        assert entry.table.value == row.table
        assert entry.label == row.code
        assert entry.description == row.description
        assert entry.status.value == row.status
        assert entry.solution == row.solution


def test_every_row_said_to_come_from_the_seed_does(registry: Registry) -> None:
    seed_codes = [row.code.split(" - ")[0] for row in seed_rows()]
    from_seed = [entry.code for entry in registry if entry.source is Provenance.SEED]
    assert from_seed == seed_codes


def test_rows_not_in_the_seed_say_they_come_from_the_reference(registry: Registry) -> None:
    seed_keys = {row.code.split(" - ")[0] for row in seed_rows()}
    others = [entry for entry in registry if entry.key not in seed_keys]
    assert {entry.source for entry in others} == {Provenance.REFERENCE}
    # 118, added after the seed's snapshot, and the whole postpaid table
    assert [entry.key for entry in others if entry.table is not Table.POSTPAID] == ["118"]


def test_codes_that_stop_all_sales_are_flagged(registry: Registry) -> None:
    def stopping(line: Line) -> set[str]:
        return {entry.code for entry in registry.response_codes(line) if entry.stops_sales}

    assert stopping(Line.PREPAID) == {"17", "102", "110", "117", "118", "204", "205"}
    # postpaid 100 and 101 are prepaid's 204 and 205 under other numbers
    assert stopping(Line.POSTPAID) == {"17", "100", "101", "102", "110", "117", "118"}
    assert not any(entry.stops_sales for entry in registry.http_rows())


def test_actions_agree_with_statuses(registry: Registry) -> None:
    for entry in registry:
        if entry.status is Status.PENDING:
            assert entry.action in (Action.WAIT, Action.CONTACT_IAK), entry.key
        if entry.status is Status.SUCCESS:
            assert entry.action is Action.NONE, entry.key
        if entry.status is Status.FAILED:
            assert entry.action is not Action.NONE, entry.key
            # Waiting (and rechecking) is for a "Failed" the code alone cannot tell ended,
            # such as postpaid 103 TIMEOUT: it may still land.
            if entry.action is Action.WAIT:
                assert entry.sold is Sold.UNKNOWN, entry.key
    assert registry.get("17").action is Action.TOP_UP_DEPOSIT  # type: ignore[union-attr]
    assert registry.get("102").action is Action.FIX_CONFIGURATION  # type: ignore[union-attr]
    assert registry.get("39").action is Action.WAIT  # type: ignore[union-attr]
    assert registry.get("postpaid 17").action is Action.TOP_UP_DEPOSIT  # type: ignore[union-attr]


DEPOSIT_TOP_UP_PAGE = "https://iak.id/webapp/deposit/topup"


# Postpaid 17's solution names another address for the same page; IAK's top-up guide
# (platform/topup-deposit.md) names DEPOSIT_TOP_UP_PAGE, which both tables link to.
SUPERSEDED_PAGES = {"https://iak.id/webapp/top-up": DEPOSIT_TOP_UP_PAGE}


def test_every_page_a_solution_names_is_a_link(registry: Registry) -> None:
    for entry in registry:
        named = {
            SUPERSEDED_PAGES.get(url.rstrip("."), url.rstrip("."))
            for url in re.findall(r"https://[^\s)]+", entry.solution)
        }
        linked = {link.url for link in entry.links}
        assert named <= linked, entry.key
        for url in linked - named:
            # the only extra link: the deposit top-up page ("iak.id deposit menu") that the
            # solution of prepaid 17 names in words
            assert entry.key == "17" and url == DEPOSIT_TOP_UP_PAGE


def test_both_tables_send_a_deposit_top_up_to_one_page(registry: Registry) -> None:
    def top_up_pages(key: str) -> list[str]:
        code = registry.get(key)
        assert code is not None
        return [link.url for link in code.links if link.url.startswith("https://iak.id/")]

    assert top_up_pages("17") == top_up_pages("postpaid 17") == [DEPOSIT_TOP_UP_PAGE]
