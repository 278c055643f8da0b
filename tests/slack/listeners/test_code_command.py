"""Scenario: `/iak code …`, `/iak codes` and `/iak help` over signed HTTP, as Slack sends them."""

from __future__ import annotations

import json
import time

import pytest

from bot.registry import Line, Registry
from tests.support.bot import RunningBot
from tests.support.messages import answer, header, text_objects, visible_text
from tests.support.seed import POSTPAID_REFERENCE, reference_rows, seed_rows
from tests.support.slack_requests import sign


def test_every_seed_code_answers_with_its_card(shared_bot: RunningBot) -> None:
    wrong: dict[str, str] = {}
    for row in seed_rows():
        key = row.code.split(" - ")[0]
        query = f"http {key}" if row.table == "http" and key != "OTHER" else key
        message = answer(shared_bot.slack.command(f"code {query}"))
        shown = visible_text(message)
        shown_header = header(message)
        if row.table == "http":
            right = shown_header.startswith(f"HTTP {key}")
        else:
            right = shown_header == f"{row.code} · {row.description}"
        if not right:
            wrong[row.code] = f"header {header(message)!r}"
        elif missing := [
            text for text in (row.description, row.status, row.solution) if text not in shown
        ]:
            wrong[row.code] = f"missing {missing}"
    assert wrong == {}


def test_every_postpaid_code_answers_from_the_postpaid_table(shared_bot: RunningBot) -> None:
    wrong: dict[str, str] = {}
    for row in reference_rows(POSTPAID_REFERENCE, "postpaid"):
        message = answer(shared_bot.slack.command(f"code postpaid {row.code}"))
        shown = visible_text(message)
        if header(message) != f"Postpaid {row.code} · {row.description}":
            wrong[row.code] = f"header {header(message)!r}"
        elif missing := [
            text
            for text in (row.status, row.solution, "From IAK's postpaid response-code table")
            if text not in shown
        ]:
            wrong[row.code] = f"missing {missing}"
    assert wrong == {}


@pytest.mark.parametrize(
    ("text", "other"),
    [
        ("code 06", "In IAK's postpaid table, 06 means something else: INQUIRY ID NOT FOUND"),
        ("code 10", "In IAK's postpaid table, 10 means something else: BILL IS NOT AVAILABLE"),
        ("code pp 06", "In IAK's prepaid table, 06 means something else: TRANSACTION NOT FOUND"),
    ],
)
def test_a_code_that_means_something_else_in_the_other_table_says_so(
    shared_bot: RunningBot, text: str, other: str
) -> None:
    shown = visible_text(answer(shared_bot.slack.command(text))).replace("*", "")
    assert other in shown


def test_a_code_that_means_the_same_in_both_tables_has_no_such_note(
    shared_bot: RunningBot,
) -> None:
    shown = visible_text(answer(shared_bot.slack.command("code 17")))
    assert "means something else" not in shown


def test_a_number_only_postpaid_knows_answers_from_postpaid(shared_bot: RunningBot) -> None:
    message = answer(shared_bot.slack.command("code 11"))
    assert header(message) == "Postpaid 11 · DUPLICATE REF ID"
    assert "11 is not a prepaid response code; IAK's postpaid table has it:" in visible_text(
        message
    )


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
    listing = answer(shared_bot.slack.command("code blocked number"))
    lines = [line for line in visible_text(listing).splitlines() if "`" in line]
    assert "Prepaid `13`" in lines[0]
    only = answer(shared_bot.slack.command("code whitelist"))
    assert header(only) == "206 · THIS DESTINATION NUMBER HAS BEEN BLOCKED"
    assert "The only code matching “whitelist”:" in visible_text(only)


def test_search_covers_both_tables_and_names_each_hits_table(shared_bot: RunningBot) -> None:
    listing = visible_text(answer(shared_bot.slack.command("code deposit")))
    lines = [line for line in listing.splitlines() if "`" in line]
    assert "Prepaid `17` INSUFFICIENT DEPOSIT" in lines[0]
    assert "Postpaid `17` BALANCE NOT ENOUGH" in lines[1]
    postpaid_only = visible_text(answer(shared_bot.slack.command("code pp deposit")))
    assert "Postpaid 17 · BALANCE NOT ENOUGH" in postpaid_only
    assert "INSUFFICIENT DEPOSIT" not in postpaid_only


def test_unknown_code_is_an_answer_with_the_closest_codes(shared_bot: RunningBot) -> None:
    message = answer(shared_bot.slack.command("code 22"))
    shown = visible_text(message)
    assert "“22” is not a known IAK code" in shown
    assert "21 NUMBER EXPIRED" in shown.replace("`", "")
    postpaid = visible_text(answer(shared_bot.slack.command("code pp 99")))
    assert "“99” is not a known IAK postpaid code" in postpaid
    assert "Postpaid 94 SERVICE HAS EXPIRED" in postpaid.replace("`", "")


def test_codes_lists_the_prepaid_table(shared_bot: RunningBot, registry: Registry) -> None:
    shown = visible_text(answer(shared_bot.slack.command("codes")))
    for code in [*registry.response_codes(), *registry.http_rows()]:
        assert code.description in shown
    assert "BILL IS NOT AVAILABLE" not in shown  # postpaid 10


@pytest.mark.parametrize("text", ["codes postpaid", "codes pp", "CODES Postpaid"])
def test_codes_postpaid_lists_the_postpaid_table_by_status(
    shared_bot: RunningBot, registry: Registry, text: str
) -> None:
    message = answer(shared_bot.slack.command(text))
    shown = visible_text(message)
    assert header(message) == "IAK postpaid response codes"
    for code in registry.response_codes(Line.POSTPAID):
        assert f"`{code.code}` {code.description}" in shown
    assert "REACH TOP UP LIMIT" not in shown  # prepaid 10
    # grouped by status, as IAK's table has them: failed first, then pending, then success
    statuses = [row.status for row in reference_rows(POSTPAID_REFERENCE, "postpaid")]
    failed, pending, success = (
        shown.index(f"*{status}* ({statuses.count(status)})")
        for status in ("Failed", "Pending", "Success")
    )
    assert failed < shown.index("`11` DUPLICATE REF ID") < pending
    assert pending < shown.index("`05` UNDEFINED ERROR") < success
    assert success < shown.index("`00` PAYMENT / INQUIRY SUCCESS")


def test_codes_of_an_unknown_table_says_which_exist(shared_bot: RunningBot) -> None:
    shown = visible_text(answer(shared_bot.slack.command("codes bogus")))
    assert "“bogus” is not one of IAK's tables: use prepaid or postpaid." in shown


@pytest.mark.parametrize("text", ["", "help", "HELP", "frobnicate now"])
def test_help_for_empty_help_and_unknown_text(shared_bot: RunningBot, text: str) -> None:
    shown = visible_text(answer(shared_bot.slack.command(text)))
    assert "/iak code 17" in shown
    assert "/iak code pp 11" in shown
    assert "/iak codes" in shown
    assert "codes postpaid" in shown
    if text == "frobnicate now":
        assert "I don't know “frobnicate”" in shown


def test_user_text_is_never_echoed_as_slack_markup(shared_bot: RunningBot) -> None:
    for text in ["<!channel> hi", "code <!here> `x`", "code <@U123|boss> *bold*"]:
        body = answer(shared_bot.slack.command(text))
        raw = json.dumps(body)
        for markup in ("<!channel>", "<!here>", "<@U123|boss>"):
            # Only a plain_text object may carry it literally; mrkdwn and the fallback never do.
            for block in body["blocks"]:
                for obj in text_objects(block):
                    if obj["type"] == "mrkdwn":
                        assert markup not in obj["text"], raw
            assert markup not in body["text"], raw


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


def test_share_button_of_a_postpaid_card_shares_the_postpaid_card(
    running_bot: RunningBot,
) -> None:
    card = answer(running_bot.slack.command("code pp 06"))
    share = [
        element
        for block in card["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "share_card"
    ]
    assert len(share) == 1
    response = running_bot.slack.action(
        "share_card", share[0]["value"], user_id="U0SHARER", response_key="share-pp"
    )
    assert response.status_code == 200
    (message,) = running_bot.fake_slack.wait_for_response("share-pp")
    assert message["response_type"] == "in_channel"
    shown = visible_text(message)
    assert "Postpaid 06 · INQUIRY ID NOT FOUND" in shown
    assert "TRANSACTION NOT FOUND" in shown  # the note on prepaid 06 travels with it
    assert "/iak code postpaid 06" in shown


def test_search_result_buttons_open_the_card_of_their_own_table(
    running_bot: RunningBot,
) -> None:
    listing = answer(running_bot.slack.command("code deposit"))
    buttons = [
        element
        for block in listing["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert [button["text"]["text"] for button in buttons] == [
        "17 · INSUFFICIENT DEPOSIT",
        "Postpaid 17 · BALANCE NOT ENOUGH",
    ]
    postpaid = buttons[1]
    response = running_bot.slack.action(
        postpaid["action_id"], postpaid["value"], response_key="show-pp"
    )
    assert response.status_code == 200
    (message,) = running_bot.fake_slack.wait_for_response("show-pp")
    assert message["replace_original"] is True
    assert "Postpaid 17 · BALANCE NOT ENOUGH" in visible_text(message)


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
