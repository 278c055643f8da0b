"""`iak-bot code 17` prints the same card readably."""

from __future__ import annotations

from bot.registry import Registry
from bot.slack.blocks.cards import remediation_card
from bot.slack.blocks.terminal import render


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
