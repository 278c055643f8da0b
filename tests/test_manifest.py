"""The Slack app manifest: valid for Slack, in step with the code, pointed at one host."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.slack.listeners.commands import USAGE
from bot.slack.manifest import build_manifest, manifest_yaml

ROOT = Path(__file__).resolve().parents[1]


def test_checked_in_manifest_is_the_generated_one() -> None:
    assert (ROOT / "manifest.yml").read_text("utf-8") == manifest_yaml(), (
        "manifest.yml is stale: run `iak-bot manifest --url https://your-app.example.com "
        "> manifest.yml`"
    )


def test_manifest_respects_slacks_limits_and_needs() -> None:
    manifest = build_manifest("https://bot.example.com")
    info = manifest["display_information"]
    assert len(info["name"]) <= 35
    assert len(info["description"]) <= 140
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/iak"
    assert len(command["command"]) <= 32
    for entry in USAGE:
        assert " ".join(entry.usage.split()[1:]) in command["usage_hint"]
    assert {"commands", "chat:write", "users:read"} <= set(
        manifest["oauth_config"]["scopes"]["bot"]
    )
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == [
        "app_home_opened",
        "function_executed",
    ]


def test_the_message_shortcut_is_declared_within_slacks_limits() -> None:
    (shortcut,) = build_manifest()["features"]["shortcuts"]
    assert shortcut["type"] == "message"
    assert shortcut["callback_id"] == "check_at_iak"
    assert shortcut["name"] == "Check at IAK"
    assert len(shortcut["name"]) <= 24
    assert 1 <= len(shortcut["description"]) <= 150


def test_the_workflow_step_is_declared_as_slack_needs_for_a_custom_step() -> None:
    """Slack's manifest schema: `functions` keyed by callback_id, each with a title, a
    description and its parameters keyed by name, each with a type; the app org-ready, its
    functions run on its own server, and function_executed delivered to it."""
    manifest = build_manifest()
    settings = manifest["settings"]
    assert settings["org_deploy_enabled"] is True
    assert settings["function_runtime"] == "remote"
    assert "function_executed" in settings["event_subscriptions"]["bot_events"]
    step = manifest["functions"]["check_iak_transaction"]
    assert {"title", "description", "input_parameters", "output_parameters"} == set(step)
    inputs, outputs = step["input_parameters"], step["output_parameters"]
    assert list(inputs) == ["ref_id", "line"]
    assert inputs["ref_id"]["is_required"] is True
    assert inputs["line"]["is_required"] is False
    assert list(outputs) == [
        "outcome",
        "rc",
        "message",
        "product_code",
        "serial_masked",
        "summary",
    ]
    for name, parameter in {**inputs, **outputs}.items():
        assert parameter["type"] == "string"
        assert parameter["name"] == name
        assert parameter["title"] and parameter["description"]


def test_every_url_points_at_the_host() -> None:
    text = manifest_yaml("https://bot.example.com")
    urls = [
        line.split(": ", 1)[1]
        for line in text.splitlines()
        if line.strip().startswith(("url:", "request_url:"))
    ]
    assert urls
    assert all(url == "https://bot.example.com/slack/events" for url in urls)


def test_socket_mode_manifest_has_no_urls() -> None:
    manifest = yaml.safe_load(manifest_yaml(socket_mode=True))
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "url" not in manifest["features"]["slash_commands"][0]
    assert "request_url" not in manifest["settings"]["interactivity"]
