"""Scenario: `/iak code …`, `/iak codes` and `/iak help` over signed HTTP, as Slack sends them."""

from __future__ import annotations

import html
import json
import time
from typing import Any

import pytest

from bot.registry import Registry
from tests.conftest import RunningBot
from tests.seed import seed_rows
from tests.slack_requests import sign


def answer(response: Any) -> dict[str, Any]:
    """The ephemeral message the user sees: the ack's JSON body."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert body["text"].strip()
    return dict(body)


def visible_text(message: dict[str, Any]) -> str:
    """Every string a user could read in the message, Slack escapes undone."""
    parts: list[str] = [message.get("text", "")]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks", []))
    return html.unescape("\n".join(parts))


def header(message: dict[str, Any]) -> str:
    first = message["blocks"][0]
    assert first["type"] == "header"
    return str(first["text"]["text"])


@pytest.mark.parametrize("row", seed_rows(), ids=lambda row: row.code)
def test_every_seed_code_answers_with_its_card(shared_bot: RunningBot, row: Any) -> None:
    key = row.code.split(" - ")[0]
    query = f"http {key}" if row.table == "http" and key != "OTHER" else key
    message = answer(shared_bot.slack.command(f"code {query}"))
    shown = visible_text(message)
    if row.table == "http":
        assert header(message).startswith(f"HTTP {key}")
    else:
        assert header(message) == f"{row.code} · {row.description}"
    assert row.description in shown
    assert row.status in shown
    assert row.solution in shown


def test_118_is_served_from_the_reference_documentation(shared_bot: RunningBot) -> None:
    message = answer(shared_bot.slack.command("code 118"))
    shown = visible_text(message)
    assert header(message) == "118 · ACCOUNT SUSPENDED"
    assert "Stops all sales" in shown
    assert "cs@mobilepulsa.com or (021) 3042 9884" in shown
    assert "From IAK's reference documentation (added after the published table)." in shown


@pytest.mark.parametrize(
    ("text", "heading"),
    [
        ("code 6", "06 · TRANSACTION NOT FOUND"),
        ("code 0", "00 · SUCCESS"),
        ("code 017", "17 · INSUFFICIENT DEPOSIT"),
        ("  code   39  ", "39 · PROCESS"),
        ("CODE 102", "102 · INVALID IP ADDRESS"),
        ("code 400", "HTTP 400 · Bad Request"),
        ("code http 503", "HTTP OTHER · any status but 200 and 400"),
    ],
)
def test_codes_are_normalised(shared_bot: RunningBot, text: str, heading: str) -> None:
    assert header(answer(shared_bot.slack.command(text))) == heading


def test_search_by_words_puts_the_best_match_first(shared_bot: RunningBot) -> None:
    message = answer(shared_bot.slack.command("code deposit"))
    assert header(message).startswith("17 · INSUFFICIENT DEPOSIT")
    listing = answer(shared_bot.slack.command("code blocked number"))
    lines = [line for line in visible_text(listing).splitlines() if "`" in line]
    assert "`13`" in lines[0]


def test_unknown_code_is_an_answer_with_the_closest_codes(shared_bot: RunningBot) -> None:
    message = answer(shared_bot.slack.command("code 08"))
    shown = visible_text(message)
    assert "“08” is not a known IAK code" in shown
    assert "07 FAILED" in shown.replace("`", "")


def test_codes_lists_the_whole_registry(shared_bot: RunningBot, registry: Registry) -> None:
    shown = visible_text(answer(shared_bot.slack.command("codes")))
    for code in registry:
        assert code.description in shown


@pytest.mark.parametrize("text", ["", "help", "HELP", "frobnicate now"])
def test_help_for_empty_help_and_unknown_text(shared_bot: RunningBot, text: str) -> None:
    shown = visible_text(answer(shared_bot.slack.command(text)))
    assert "/iak code 17" in shown
    assert "/iak codes" in shown
    if text == "frobnicate now":
        assert "I don't know “frobnicate”" in shown


def test_user_text_is_never_echoed_as_slack_markup(shared_bot: RunningBot) -> None:
    for text in ["<!channel> hi", "code <!here> `x`", "code <@U123|boss> *bold*"]:
        body = answer(shared_bot.slack.command(text))
        raw = json.dumps(body)
        for markup in ("<!channel>", "<!here>", "<@U123|boss>"):
            # Only a plain_text object may carry it literally; mrkdwn and the fallback never do.
            for block in body["blocks"]:
                for obj in _text_objects(block):
                    if obj["type"] == "mrkdwn":
                        assert markup not in obj["text"], raw
            assert markup not in body["text"], raw


def _text_objects(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and "text" in node:
            found.append(node)
        for value in node.values():
            found.extend(_text_objects(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_text_objects(item))
    return found


def test_bad_stale_or_missing_signatures_get_401(running_bot: RunningBot) -> None:
    sender = running_bot.slack
    body = sender.command_body("code 17")
    assert sender.post(body, signature="v0=" + "0" * 64).status_code == 401
    stale = int(time.time()) - 6 * 60
    assert (
        sender.post(
            body, timestamp=stale, signature=sign(sender.secret, str(stale), body)
        ).status_code
        == 401
    )
    wrong_secret = sign("not-the-secret", str(int(time.time())), body)
    assert sender.post(body, signature=wrong_secret).status_code == 401
    missing = sender.http.post(
        sender.url, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert missing.status_code == 401
    assert running_bot.fake_slack.calls == []


def test_oversized_or_undecodable_bodies_are_refused(running_bot: RunningBot) -> None:
    sender = running_bot.slack
    big = sender.http.post(sender.url, content=b"x" * (600 * 1024))
    assert big.status_code == 413
    bad = sender.http.post(sender.url, content=b"\xff\xfe\xfa")
    assert bad.status_code == 400


def test_share_button_posts_the_card_in_channel(running_bot: RunningBot) -> None:
    response = running_bot.slack.action(
        "share_card", "17", user_id="U0SHARER", response_key="share"
    )
    assert response.status_code == 200
    posted = running_bot.fake_slack.wait_for_response("share")
    assert len(posted) == 1
    message = posted[0]
    assert message["response_type"] == "in_channel"
    assert message["replace_original"] is False
    shown = visible_text(message)
    assert "17 · INSUFFICIENT DEPOSIT" in shown
    assert "<@U0SHARER>" in shown
    assert "Share in channel" not in shown


def test_search_result_button_opens_that_card(running_bot: RunningBot) -> None:
    response = running_bot.slack.action("show_card_206", "206", response_key="show")
    assert response.status_code == 200
    posted = running_bot.fake_slack.wait_for_response("show")
    assert posted[0]["replace_original"] is True
    assert "206 · THIS DESTINATION NUMBER HAS BEEN BLOCKED" in visible_text(posted[0])


def test_health(running_bot: RunningBot) -> None:
    import httpx

    response = httpx.get(running_bot.url + "/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
