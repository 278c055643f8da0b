"""Every card the bot can build fits Slack's Block Kit limits and says what ops need."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.registry import Line, Matches, Registry, Unknown
from bot.slack.blocks import limits
from bot.slack.blocks.cards import (
    CommandHelp,
    codes_list,
    help_message,
    remediation_card,
    search_results,
    unknown_code,
)
from bot.slack.listeners.commands import USAGE
from tests.support.messages import all_text, assert_valid, visible_text


def test_every_code_renders_a_valid_card(registry: Registry) -> None:
    for code in registry:
        card = remediation_card(code)
        assert_valid(card)
        assert card["blocks"][0]["type"] == "header"
        assert code.code in card["blocks"][0]["text"]["text"]
        text = all_text(card)
        assert code.status.value in text
        assert code.action.label in text
        assert json.dumps(code.solution, ensure_ascii=False)[1:-1] in text
        assert code.code in card["text"]


def test_card_shows_links_as_buttons_and_a_share_button(registry: Registry) -> None:
    card = remediation_card(registry.get("206"))  # type: ignore[arg-type]
    buttons = [e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
    urls = [button.get("url") for button in buttons]
    assert "https://developer.iak.id/end-user-blacklist" in urls
    assert "https://developer.iak.id/end-user-whitelist" in urls
    assert buttons[-1]["text"]["text"] == "Share in channel"
    assert buttons[-1]["value"] == "206"


def test_shared_card_names_who_shared_and_has_no_share_button(registry: Registry) -> None:
    card = remediation_card(registry.get("17"), shared_by="U0OPS0001")  # type: ignore[arg-type]
    text = all_text(card)
    assert "<@U0OPS0001>" in text
    assert "Share in channel" not in text
    assert_valid(card)


def test_a_shared_card_names_only_a_real_slack_user(registry: Registry) -> None:
    for sharer in ("<!channel>", "U0OPS0001|boss", ""):
        card = remediation_card(registry.get("17"), shared_by=sharer)  # type: ignore[arg-type]
        assert "Shared by" not in all_text(card)
        assert_valid(card)


def test_stops_sales_is_prominent(registry: Registry) -> None:
    assert "Stops all sales" in all_text(remediation_card(registry.get("102")))  # type: ignore[arg-type]
    assert "Stops all sales" not in all_text(remediation_card(registry.get("07")))  # type: ignore[arg-type]


def test_codes_list_has_every_code_and_fits(registry: Registry) -> None:
    message = codes_list(registry)
    assert_valid(message)
    text = all_text(message)
    for code in [*registry.response_codes(), *registry.http_rows()]:
        assert f"`{code.code}` {code.description}" in text
    assert "BILL IS NOT AVAILABLE" not in text  # postpaid 10: not in the prepaid list
    assert "`/iak codes postpaid`" in text


def test_postpaid_codes_list_has_every_postpaid_code_and_fits(registry: Registry) -> None:
    message = codes_list(registry, Line.POSTPAID)
    assert_valid(message)
    text = all_text(message)
    assert message["blocks"][0]["text"]["text"] == "IAK postpaid response codes"
    for code in registry.response_codes(Line.POSTPAID):
        assert f"`{code.code}` {code.description}" in text
    assert "REACH TOP UP LIMIT" not in text  # prepaid 10
    assert "HTTP status" not in text
    assert message["text"] == "48 IAK postpaid response codes, grouped by status."


def test_postpaid_card_names_its_table_and_shares_as_postpaid(registry: Registry) -> None:
    card = remediation_card(registry.get("postpaid 11"))  # type: ignore[arg-type]
    assert_valid(card)
    assert card["blocks"][0]["text"]["text"] == "Postpaid 11 · DUPLICATE REF ID"
    buttons = [e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons[-1]["value"] == "postpaid 11"
    assert "postpaid response-code table (reference documentation)" in all_text(card)
    shared = remediation_card(registry.get("postpaid 11"), shared_by="U0OPS0001")  # type: ignore[arg-type]
    assert "`/iak code postpaid 11`" in all_text(shared)


def test_card_of_a_number_with_two_meanings_names_the_other(registry: Registry) -> None:
    prepaid, postpaid = registry.get("06"), registry.get("postpaid 06")
    assert prepaid is not None and postpaid is not None
    card = remediation_card(prepaid, homonym=registry.homonym(prepaid))
    assert_valid(card)
    text = all_text(card)
    assert "In IAK's postpaid table, 06 means something else: INQUIRY ID NOT FOUND" in text
    assert "(`/iak code postpaid 06`)" in text
    assert "means something else: INQUIRY ID NOT FOUND" in card["text"]
    other = all_text(remediation_card(postpaid, homonym=registry.homonym(postpaid)))
    assert "In IAK's prepaid table, 06 means something else: TRANSACTION NOT FOUND" in other


def test_only_rows_from_the_reference_documentation_say_so(registry: Registry) -> None:
    note = "From IAK's reference documentation (added after the published table)."
    assert note in all_text(remediation_card(registry.get("118")))  # type: ignore[arg-type]
    assert "reference documentation" not in all_text(remediation_card(registry.get("117")))  # type: ignore[arg-type]


def test_longest_card_stays_well_under_slacks_real_size_limit(registry: Registry) -> None:
    sizes = {code.code: len(all_text(remediation_card(code))) for code in registry}
    longest = max(sizes, key=lambda key: sizes[key])
    assert sizes[longest] < limits.MAX_MESSAGE_CHARS
    assert_valid(remediation_card(registry.get(longest), note="x" * 3000))  # type: ignore[arg-type]


def test_search_results_list_fits(registry: Registry) -> None:
    result = registry.lookup("number")
    assert isinstance(result, Matches)
    message = search_results(result)
    assert_valid(message)
    assert "more" in all_text(message)  # more matches than lines shown


def test_search_results_say_which_table_each_hit_is_from(registry: Registry) -> None:
    result = registry.lookup("deposit")
    assert isinstance(result, Matches)
    message = search_results(result)
    # prepaid 17 and postpaid 17: one number, two buttons that Slack must tell apart
    assert_valid(message)
    text = all_text(message)
    assert text.index("Prepaid `17` INSUFFICIENT DEPOSIT") < text.index(
        "Postpaid `17` BALANCE NOT ENOUGH"
    )
    buttons = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["text"]["text"], b["value"]) for b in buttons] == [
        ("17 · INSUFFICIENT DEPOSIT", "17"),
        ("Postpaid 17 · BALANCE NOT ENOUGH", "postpaid 17"),
    ]


def test_long_user_input_is_cut_not_refused(registry: Registry) -> None:
    query = "zebra " * 500
    result = registry.lookup(query)
    assert isinstance(result, Unknown)
    assert_valid(unknown_code(result))
    assert_valid(help_message(USAGE, note=f"I don't know “{query}”."))


def test_help_lists_every_subcommand() -> None:
    message = help_message(USAGE)
    assert_valid(message)
    for entry in USAGE:
        assert entry.usage in all_text(message)


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"text": "t", "blocks": [{"type": "divider"}] * 51}, "51 blocks"),
        ({"text": "", "blocks": [{"type": "divider"}]}, "no plain-text"),
        (
            {
                "text": "t",
                "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            },
            "header text 151",
        ),
        (
            {
                "text": "t",
                "blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}],
            },
            "field 2001",
        ),
        (
            {
                "text": "t",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 2990}}] * 5,
            },
            "blocks total",
        ),
        (
            {
                "text": "t",
                "blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}],
            },
            "11 context elements",
        ),
        (
            {
                "text": "t",
                "blocks": [
                    {
                        "type": "actions",
                        "elements": [
                            {
                                "type": "button",
                                "text": {"type": "plain_text", "text": "b"},
                                "action_id": "show_card_17",
                                "value": value,
                            }
                            for value in ("17", "postpaid 17")
                        ],
                    }
                ],
            },
            "action_id 'show_card_17' used twice",
        ),
        (
            {"text": "t", "blocks": [{"type": "divider", "block_id": "card_17"}] * 2},
            "block_id 'card_17' used twice",
        ),
    ],
)
def test_limit_checker_catches_each_violation(message: dict[str, Any], problem: str) -> None:
    assert any(problem in found for found in limits.problems(message))


def test_help_entries_are_plain_data() -> None:
    assert all(isinstance(entry, CommandHelp) for entry in USAGE)


@pytest.mark.parametrize(
    ("key", "command"),
    [
        ("20", "/iak product <product code>"),
        ("106", "/iak product <product code>"),
        ("postpaid 20", "/iak product pp <product code>"),
        ("postpaid 106", "/iak product pp <product code>"),
        ("17", None),
        ("postpaid 11", None),
    ],
)
def test_product_codes_point_at_the_price_list(
    registry: Registry, key: str, command: str | None
) -> None:
    code = registry.get(key)
    assert code is not None
    text = visible_text(dict(remediation_card(code)))
    if command is None:
        assert "/iak product" not in text
    else:
        assert command in text


def test_an_indonesian_card_names_its_table_and_its_links_in_indonesian(
    registry: Registry,
) -> None:
    from bot.i18n import language

    deposit = registry.get("postpaid 17")
    assert deposit is not None
    with language("id"):
        card = remediation_card(deposit)
    buttons = [
        element["text"]["text"]
        for block in card["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if "url" in element
    ]
    assert buttons == ["Isi ulang deposit IAK", "Deposit sandbox"]
    assert card["blocks"][0]["text"]["text"] == "Pascabayar 17 · BALANCE NOT ENOUGH"
    with language("en"):
        english = remediation_card(deposit)
    assert english["blocks"][0]["text"]["text"] == "Postpaid 17 · BALANCE NOT ENOUGH"
