"""Text becomes markup in one place: the builders escape a plain `str`, and send `Mrkdwn` (the
bot's own mentions, links, dates and formatting around escaped values) as written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.slack.blocks.markup import (
    Mrkdwn,
    cut,
    date,
    group_mention,
    join,
    link,
    md,
    mention,
    mentions,
)
from bot.slack.blocks.text import (
    button,
    context,
    fields,
    header,
    message,
    mrkdwn,
    note,
    plain_section,
    section,
)
from tests.support.messages import assert_valid

HOSTILE = "<!channel> <@U0BOSS> <#C0SECRET> <https://evil.example|click> &lt;!here&gt;"
ESCAPED = (
    "&lt;!channel&gt; &lt;@U0BOSS&gt; &lt;#C0SECRET&gt; &lt;https://evil.example|click&gt; "
    "&amp;lt;!here&amp;gt;"
)


def test_a_section_escapes_a_plain_str_and_sends_markup_as_written() -> None:
    assert section("<!channel>")["text"]["text"] == "&lt;!channel&gt;"
    assert section(md("by {}", mention("U0LEAD")))["text"]["text"] == "by <@U0LEAD>"


def test_every_mrkdwn_builder_and_the_fallback_show_a_plain_str_as_typed() -> None:
    assert mrkdwn(HOSTILE)["text"] == ESCAPED
    assert context(HOSTILE, "ok")["elements"][0]["text"] == ESCAPED
    assert fields(HOSTILE)["fields"][0]["text"] == ESCAPED
    assert message(HOSTILE, [])["text"] == ESCAPED
    answer = note(HOSTILE)
    assert answer["text"] == ESCAPED
    assert answer["blocks"][0]["text"]["text"] == ESCAPED


def test_the_fallback_keeps_the_bots_own_mentions() -> None:
    said = md("Acknowledged by {}.", mention("U0LEAD"))
    assert message(said, [section(said)])["text"] == "Acknowledged by <@U0LEAD>."


def test_plain_text_objects_are_shown_literally_and_never_escaped() -> None:
    assert header(HOSTILE)["text"]["text"] == HOSTILE
    assert header("<!here> & co")["text"] == {
        "type": "plain_text",
        "text": "<!here> & co",
        "emoji": True,
    }
    assert plain_section("<!here> & co")["text"]["text"] == "<!here> & co"
    assert button("<@U0BOSS>", "a", "<v>")["text"]["text"] == "<@U0BOSS>"


def test_md_escapes_every_value_and_any_markup_in_the_template() -> None:
    assert md("*{}* failed", "<!here>") == "*&lt;!here&gt;* failed"
    assert md("a & <b> -> c") == "a &amp; &lt;b&gt; -&gt; c"
    # A `>` that starts a line of the template is a quote; a value cannot start one.
    assert md("*Solution*\n>{}", ">x") == "*Solution*\n>&gt;x"
    assert md("{} failures · {:,} in total", 3, 12345) == "3 failures · 12,345 in total"
    assert isinstance(md("x"), Mrkdwn)


def test_nothing_is_escaped_twice() -> None:
    inner = md("`{}`", "a<b")
    assert md("rc {}", inner) == "rc `a&lt;b`"
    assert section(md("{}", inner))["text"]["text"] == "`a&lt;b`"
    assert join([inner, "c&d", mention("U0LEAD")], " · ") == "`a&lt;b` · c&amp;d · <@U0LEAD>"
    assert message(inner, [])["text"] == "`a&lt;b`"


def test_markup_rebuilt_with_str_tools_is_shown_as_text_never_as_markup() -> None:
    # An f-string makes a plain `str` again: the builder escapes all of it, so a mistake
    # shows the markup as text instead of pinging anyone.
    rebuilt = f"by {mention('U0LEAD')}"
    assert section(rebuilt)["text"]["text"] == "by &lt;@U0LEAD&gt;"


@pytest.mark.parametrize(
    ("user_id", "expected"),
    [
        ("U0LEAD", "<@U0LEAD>"),
        ("W0ENTERPRISE1", "<@W0ENTERPRISE1>"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("U0LEAD|boss", "U0LEAD|boss"),
        ("u0lead", "u0lead"),
        ("C0SECRET", "C0SECRET"),
        ("", ""),
    ],
)
def test_only_a_slack_user_id_becomes_a_mention(user_id: str, expected: str) -> None:
    assert mention(user_id) == expected


def test_links_and_dates_are_the_bots_own_controls() -> None:
    assert (
        link("https://developer.iak.id/prod-setting", "IAK's <IP> page")
        == "<https://developer.iak.id/prod-setting|IAK's &lt;IP&gt; page>"
    )
    for url in ("javascript:alert(1)", "https://a.example|x", "https://a.example/<!here>", ""):
        assert link(url, "<page>") == "&lt;page&gt;"
    moment = datetime(2024, 5, 1, 10, 2, tzinfo=UTC)
    assert (
        date(moment, "{date_short_pretty} {time}", "2024-05-01 10:02 UTC")
        == "<!date^1714557720^{date_short_pretty} {time}|2024-05-01 10:02 UTC>"
    )
    with pytest.raises(ValueError, match="not Slack date tokens"):
        date(moment, "{time}|<!channel>", "x")


def test_a_cut_never_splits_an_escape_or_a_control() -> None:
    assert cut(md("{}", "&&&&"), 12) == "&amp;&amp;…"
    assert cut(md("by {} now", mention("U0LEAD")), 8) == "by…"
    assert cut(md("{}", "short"), 10) == "short"
    long = section("<" * 3000)["text"]["text"]
    assert len(long) <= 3000 and long.endswith("&lt;…")


def test_limits_count_the_escapes() -> None:
    """Escaping makes text longer: each builder cuts what it sends, not what it was given."""
    card = message(
        md("{} waiting", "<!here>" * 400),
        [
            section("&" * 2990),
            context("<x>" * 1000),
            fields(*(["<@U0BOSS>" * 200] * 2)),
        ],
    )
    assert_valid(card)
    assert len(card["text"]) <= 3000
    assert len(card["blocks"][2]["fields"][0]["text"]) <= 2000


def test_on_call_ids_become_the_mentions_that_ping_them() -> None:
    assert group_mention("S0ONCALL") == "<!subteam^S0ONCALL>"
    assert group_mention("S0ONCALL|x") == "S0ONCALL|x"
    assert mentions(["S0ONCALL", "U0ALICE", "<!here>"]) == (
        "<!subteam^S0ONCALL> <@U0ALICE> &lt;!here&gt;"
    )


def test_md_fills_named_fields_escaped() -> None:
    assert md("{who} saw {what}", who=mention("U0A"), what="<!channel>") == (
        "<@U0A> saw &lt;!channel&gt;"
    )
