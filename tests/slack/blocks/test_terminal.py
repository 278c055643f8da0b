"""`iak-bot code 17` prints the same card readably."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.registry import Registry
from bot.slack.blocks.cards import remediation_card
from bot.slack.blocks.markup import date, link, md, mention
from bot.slack.blocks.terminal import render
from bot.slack.blocks.text import actions, button, context, header, message, section


def test_card_renders_as_readable_text(registry: Registry) -> None:
    code = registry.get("17")
    assert code is not None
    text = render(remediation_card(code, shareable=False))
    assert text.startswith("17 · INSUFFICIENT DEPOSIT\n====")
    assert "❌ Failed" in text
    assert "🚨 Stops all sales" in text
    assert "What to do: Top up the deposit (us)" in text
    assert "https://developer.iak.id/sandbox-report" in text
    assert "*" not in text and "`" not in text and "&gt;" not in text
    assert all(len(line) <= 80 for line in text.splitlines())


def test_bold_uses_ansi_only_when_asked(registry: Registry) -> None:
    code = registry.get("39")
    assert code is not None
    assert "\033[1m" in render(remediation_card(code), bold=True)
    assert "\033[" not in render(remediation_card(code))


def test_text_from_outside_prints_as_typed_and_our_markup_by_name() -> None:
    moment = datetime(2024, 5, 1, 10, 2, tzinfo=UTC)
    text = render(
        message(
            "x",
            [
                header("Transaction <!channel>"),
                section(md("*IAK says*\n{}", "<@U0BOSS> &lt;!here&gt; a&b <#C0SECRET>")),
                context(
                    md(
                        "Acknowledged by {} · {} · {}",
                        mention("U0LEAD"),
                        date(moment, "{date_short_pretty} {time}", "2024-05-01 10:02 UTC"),
                        link("https://developer.iak.id/prod-setting", "IAK's <IP> page"),
                    )
                ),
                actions(button("<https://evil.example|click>", "a", "v")),
            ],
        ),
        width=200,
    )
    assert text.startswith("Transaction <!channel>\n")
    assert "<@U0BOSS> &lt;!here&gt; a&b <#C0SECRET>" in text
    assert "Acknowledged by U0LEAD · 2024-05-01 10:02 UTC" in text
    assert "IAK's <IP> page (https://developer.iak.id/prod-setting)" in text
    assert "[<https://evil.example|click>]" in text
