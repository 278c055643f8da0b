"""What the Check at IAK shortcut says besides its status cards: valid, in both languages."""

from __future__ import annotations

import pytest

from bot.i18n import Language, language
from bot.slack.blocks.message_checks import nothing_to_check, with_more_named
from bot.slack.blocks.text import message, section
from tests.support.messages import assert_valid, visible_text


@pytest.mark.parametrize(("code", "says"), [("en", "I found no ref_id"), ("id", "Saya tidak")])
def test_nothing_to_check_says_what_the_bot_looks_for(code: Language, says: str) -> None:
    with language(code):
        answer = nothing_to_check()
    assert_valid(answer)
    shown = visible_text(answer)
    assert says in shown
    assert "/iak status <ref_id>" in shown


@pytest.mark.parametrize(("code", "says"), [("en", "names 8 ref_ids"), ("id", "menyebut 8")])
def test_the_last_card_says_how_many_more_the_message_named(code: Language, says: str) -> None:
    card = message("ORD-5: Pending.", [section("card")])
    with language(code):
        noted = with_more_named(card, checked=5, named=8)
    assert_valid(noted)
    assert noted["blocks"][0] == card["blocks"][0]
    assert says in visible_text(noted)
    assert noted["text"] == card["text"]
