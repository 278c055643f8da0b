"""Slack markup written by the bot: values escaped, and `<…>` only from the helpers that
mean it (mentions of real user ids, links, dates)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.slack.blocks.markup import Mrkdwn, cut, date, join, link, md, mention


def test_md_escapes_every_value_and_any_markup_in_the_template() -> None:
    assert md("*{}* failed", "<!here>") == "*&lt;!here&gt;* failed"
    assert md("a & <b> -> c") == "a &amp; &lt;b&gt; -&gt; c"
    # A `>` that starts a line of the template is a quote; a value cannot start one.
    assert md("*Solution*\n>{}", ">x") == "*Solution*\n>&gt;x"
    assert md("{} failures · {:,} in total", 3, 12345) == "3 failures · 12,345 in total"
    assert isinstance(md("x"), Mrkdwn)


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


def test_markup_is_never_escaped_twice() -> None:
    inner = md("`{}`", "a<b")
    assert md("rc {}", inner) == "rc `a&lt;b`"
    assert join([inner, "c&d", mention("U0LEAD")], " · ") == "`a&lt;b` · c&amp;d · <@U0LEAD>"


def test_a_cut_never_splits_an_escape_or_a_control() -> None:
    assert cut(md("{}", "&&&&"), 12) == "&amp;&amp;…"
    assert cut(md("by {} now", mention("U0LEAD")), 8) == "by…"
    assert cut(md("{}", "short"), 10) == "short"
