"""Scenario: IAK refuses the bot's own check (`/iak status`, `/iak status pp`), over signed
HTTP against the fake IAK, in English and in Bahasa Indonesia.

A refused check says nothing about the transaction: the card must not show the code's
"Failed" badge, nor the code's own advice (postpaid 06's "make a new inquiry with a new
ref_id and pay that one" pays a bill twice when the check only asked the wrong place). It
says the check was refused, and what to do about the check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.registry import Registry
from tests.support.bot import IAK_API_KEY, IAK_USERNAME, RunningBot, bot_server
from tests.support.fakes.iak import (
    POSTPAID_IP_NOT_ALLOWED,
    POSTPAID_WRONG_SIGN,
    FakeIak,
    IakReply,
    bill,
    postpaid,
    refusal,
    transaction,
)
from tests.support.iak import SHORT
from tests.support.messages import assert_valid, visible_text

# scenario tests: the bot runs whole, over loopback or as processes
pytestmark = pytest.mark.slow

ANI = "U0ANIJKT1"  # Slack in Bahasa Indonesia
BEN = "U0BENSGP1"  # Slack in English
PEOPLE = {"en": BEN, "id": ANI}

# What each language must show on a refused check, and must never show there.
REFUSED = {
    "en": (":no_entry_sign: *Check refused*", "What to do: Fix the check and recheck"),
    "id": (":no_entry_sign: *Cek ditolak*", "Yang harus dilakukan: Perbaiki cek lalu cek ulang"),
}
PREPAID_ADVICE = {
    "en": "Do not refund it or send it again, under any ref_id.",
    "id": "Jangan refund atau kirim ulang, dengan ref_id apa pun.",
}
POSTPAID_ADVICE = {
    "en": "Do not refund it, pay it again or make a new inquiry.",
    "id": "Jangan refund, bayar lagi, atau membuat inquiry baru.",
}
FAILED_BADGE = {"en": ":x: *Failed*", "id": ":x: *Gagal*"}


@dataclass
class Bots:
    running: RunningBot
    iak: FakeIak


@pytest.fixture(scope="module")
def bots(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Bots]:
    with (
        FakeIak(IAK_USERNAME, IAK_API_KEY) as iak,
        bot_server(
            registry,
            tmp_path_factory.mktemp("refused"),
            sqlite_template,
            iak_limits=SHORT,
            iak_base_url=iak.url,
            iak_postpaid_base_url=iak.url,
        ) as running,
    ):
        running.fake_slack.set_locale(ANI, "id-ID")
        running.fake_slack.set_locale(BEN, "en-US")
        yield Bots(running, iak)


@dataclass(frozen=True)
class Case:
    name: str
    command: str  # `status` or `status pp`
    script: Callable[[FakeIak, str], None]
    never: tuple[str, ...] = ()  # the code's own advice, which must not show (English)


def prepaid_always(rc: str, message: str) -> Callable[[FakeIak, str], None]:
    return lambda fake, ref_id: fake.always(ref_id, IakReply(400, refusal(rc, message)))


def postpaid_always(reply: IakReply) -> Callable[[FakeIak, str], None]:
    return lambda fake, ref_id: fake.always(postpaid(ref_id), reply)


CASES = [
    # The fake answers a ref_id it does not know with 06, on both lines.
    Case(
        "pp-unknown-ref-id",
        "status pp",
        lambda fake, ref_id: None,
        never=("make a new inquiry with a new ref_id and pay that one", "Nothing was paid"),
    ),
    Case("pp-100", "status pp", postpaid_always(IakReply(400, POSTPAID_WRONG_SIGN))),
    Case("pp-102", "status pp", postpaid_always(IakReply(400, POSTPAID_IP_NOT_ALLOWED))),
    Case("unknown-ref-id", "status", lambda fake, ref_id: None, never=("Nothing was sold",)),
    Case("102", "status", prepaid_always("102", "INVALID IP ADDRESS")),
    Case("110", "status", prepaid_always("110", "SYSTEM UNDER MAINTENANCE")),
    Case("118", "status", prepaid_always("118", "ACCOUNT SUSPENDED")),
    Case("204", "status", prepaid_always("204", "WRONG AUTHENTICATION")),
    Case("205", "status", prepaid_always("205", "WRONG COMMAND")),
]


@pytest.mark.parametrize("lang", ["en", "id"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_a_refused_check_is_shown_as_the_check_refused_never_as_a_failure(
    bots: Bots, case: Case, lang: str
) -> None:
    ref_id = f"ref-{case.name}-{lang}"
    case.script(bots.iak, ref_id)
    key = f"refused-{case.name}-{lang}"
    bots.running.slack.command(f"{case.command} {ref_id}", user_id=PEOPLE[lang], response_key=key)
    (card,) = bots.running.fake_slack.wait_for_response(key, timeout=5)
    assert_valid(card)
    shown = visible_text(card)
    for expected in REFUSED[lang]:
        assert expected in shown, f"{expected!r} missing:\n{shown}"
    advice = POSTPAID_ADVICE if case.command == "status pp" else PREPAID_ADVICE
    assert advice[lang] in shown
    assert FAILED_BADGE[lang] not in shown
    for english in case.never:
        assert english not in shown


def test_a_transactions_own_failure_still_shows_its_code(bots: Bots) -> None:
    """The control: rc 07 on a found transaction is the sale's own answer."""
    bots.iak.add(transaction("ref-failed-07", "failed"))
    bots.iak.add_bill(bill("bill-failed-37", "failed"))
    for command, ref_id in (("status", "ref-failed-07"), ("status pp", "bill-failed-37")):
        key = f"own-{ref_id}"
        bots.running.slack.command(f"{command} {ref_id}", user_id=BEN, response_key=key)
        (card,) = bots.running.fake_slack.wait_for_response(key, timeout=5)
        shown = visible_text(card)
        assert FAILED_BADGE["en"] in shown
        assert "Check refused" not in shown
