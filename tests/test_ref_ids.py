"""Which ref_ids a chat message names: stored ones first, then words that look like one."""

from __future__ import annotations

from bot.outcomes import Line
from bot.ref_ids import MAX_CHECKED, MAX_TEXT, MAX_WORDS, choose, words


def test_prose_punctuation_and_mrkdwn_around_a_ref_id_are_not_part_of_it() -> None:
    text = "cek ORD-77 sama *ORD-78*, (ORD-79). `ORD-80`? _ORD-81_ ORD-82,ORD-83; “ORD-84”"
    found = words(text)
    for ref_id in ("ORD-77", "ORD-78", "ORD-79", "ORD-80", "ORD-81", "ORD-82", "ORD-83", "ORD-84"):
        assert ref_id in found
    assert "cek" in found  # a word is only a candidate: the store and the rules decide


def test_slack_markup_names_no_ref_id_but_a_links_label_does() -> None:
    text = (
        "<@U0OPS0001> <#C0OPS0001|ops> <!here> <https://dash.example/tx/ORD-90> "
        "<https://dash.example/tx/ORD-91|ORD-91> ORD-92 &amp; &lt;ORD-93&gt;"
    )
    found = words(text)
    assert "ORD-91" in found and "ORD-92" in found and "ORD-93" in found
    assert not any("U0OPS0001" in word or "C0OPS0001" in word for word in found)
    assert not any("ORD-90" in word for word in found)


def test_each_word_once_in_order_of_appearance() -> None:
    assert words("ORD-2 ORD-1 ORD-2 ORD-1") == ("ORD-2", "ORD-1")


def test_a_long_message_costs_a_bounded_lookup() -> None:
    pasted_log = " ".join(f"line{n}" for n in range(10_000))
    assert len(words(pasted_log)) == MAX_WORDS
    late = "x" * MAX_TEXT + " ORD-77"
    assert "ORD-77" not in words(late)


def test_stored_ref_ids_come_first_on_their_own_line_then_plausible_ones() -> None:
    candidates = words("cek ORD-77 sama bill-9 dan abc serta 12 ya ORD-78 Rp25.000")
    chosen = choose(candidates, {"bill-9": Line.POSTPAID, "abc": Line.PREPAID})
    assert chosen.ref_ids == (
        ("bill-9", Line.POSTPAID),
        ("abc", Line.PREPAID),  # stored, so checked although it looks like no ref_id
        ("ORD-77", Line.PREPAID),
        ("ORD-78", Line.PREPAID),
        ("Rp25.000", Line.PREPAID),
    )
    # "cek", "sama" have no digit; "12" is too short to be a ref_id nobody stored
    assert chosen.named == 5


def test_at_most_five_are_chosen_and_the_rest_are_counted() -> None:
    candidates = tuple(f"ORD-{n}" for n in range(1, 9))
    chosen = choose(candidates, {"ORD-8": Line.PREPAID})
    assert len(chosen.ref_ids) == MAX_CHECKED == 5
    assert chosen.ref_ids[0] == ("ORD-8", Line.PREPAID)
    assert chosen.named == 8


def test_a_message_without_anything_like_a_ref_id_chooses_nothing() -> None:
    chosen = choose(words("pulsa belum masuk, tolong dicek ya kak 🙏"), {})
    assert chosen.ref_ids == () and chosen.named == 0
    assert choose(words(""), {}).ref_ids == ()
