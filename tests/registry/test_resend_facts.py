"""Each code states as data whether anything was sold (paid) and what sending it again means,
and every card says it from those facts, in both languages.

The rules, for every code at once (every offender is named, not just the first): nothing
pending or of unknown outcome says a new ref_id or pay again; nothing sold says send again.
"""

from __future__ import annotations

import pytest

from bot.i18n import Language, _, language
from bot.registry import (
    Action,
    Line,
    Registry,
    Resend,
    ResponseCode,
    SeenAs,
    Sold,
    Status,
    Table,
    resend_rule_offences,
)
from bot.slack.blocks.cards import (
    RESEND_SENTENCES,
    SOLD_SENTENCES,
    refused_check_action,
    refused_check_advice,
    remediation_blocks,
    remediation_card,
    status_badge,
)
from tests.support.messages import visible_text

LANGUAGES: tuple[Language, ...] = ("en", "id")


def test_no_code_can_sell_or_pay_twice_by_its_resend_facts(registry: Registry) -> None:
    offenders = [offence for code in registry for offence in resend_rule_offences(code)]
    assert offenders == []


def test_pending_and_unknown_codes_wait_or_reuse_the_ref_id(registry: Registry) -> None:
    """The rules stated plainly, beside the function that enforces them."""
    for code in registry:
        if code.status is Status.PENDING or code.sold is Sold.UNKNOWN:
            assert code.resend not in (Resend.NEW_REF_ID, Resend.PAY_TR_ID), code.key
        if code.sold is Sold.YES:
            assert code.resend is Resend.NEVER, code.key
        if code.action in (Action.RETRY_NOW, Action.RETRY_LATER):
            assert code.sold is Sold.NO, code.key
            assert code.resend not in (Resend.NEVER, Resend.WAIT), code.key
    pending = {code.key for code in registry if code.status is Status.PENDING}
    assert pending >= {"OTHER", "39", "201", "postpaid 05", "postpaid 39", "postpaid 201"}


@pytest.mark.parametrize(
    ("key", "update", "said"),
    [
        ("39", {"resend": Resend.NEW_REF_ID}, "may still land, yet resend is new_ref_id"),
        ("postpaid 39", {"resend": Resend.PAY_TR_ID}, "may still land, yet resend is pay_tr_id"),
        ("07", {"sold": Sold.UNKNOWN}, "may still land, yet resend is new_ref_id"),
        ("39", {"sold": Sold.NO}, "pending, yet sold is no"),
        ("00", {"resend": Resend.SAME_REF_ID}, "sold, yet resend is same_ref_id"),
        ("07", {"resend": Resend.PAY_TR_ID}, "only postpaid payments name a tr_id"),
        ("postpaid 11", {"resend": Resend.SAME_REF_ID}, "postpaid and sold unknown"),
        ("00", {"sold": Sold.UNKNOWN}, "success, yet sold is unknown"),
        ("postpaid 103", {"action": Action.RETRY_NOW}, "sold is unknown, yet what to do is"),
        ("postpaid 01", {"action": Action.RETRY_LATER}, "resend is never, yet what to do is"),
        ("00", {"action": Action.RETRY_NOW}, "sold is yes, yet what to do is retry_now"),
    ],
)
def test_each_rule_names_a_code_that_breaks_it(
    registry: Registry, key: str, update: dict[str, object], said: str
) -> None:
    code = registry.get(key)
    assert code is not None
    offences = resend_rule_offences(code.model_copy(update=update))
    assert any(said in offence and key in offence for offence in offences), offences


def card_text(code: ResponseCode, lang: Language) -> str:
    with language(lang):
        return " ".join(visible_text(remediation_card(code)).split())


def sentences(lang: Language, table: dict[object, str]) -> dict[object, str]:
    with language(lang):
        return {key: " ".join(_(text).split()) for key, text in table.items()}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_card_says_what_was_sold_and_what_sending_again_means(
    registry: Registry, lang: Language
) -> None:
    wrong: list[str] = []
    for code in registry:
        line = code.table.line
        text = card_text(code, lang)
        resend = sentences(lang, dict(RESEND_SENTENCES[line]))
        sold = sentences(lang, dict(SOLD_SENTENCES[line]))
        if resend[code.resend] not in text:
            wrong.append(f"{code.key}: no {code.resend.value} sentence")
        if sold[code.sold] not in text:
            wrong.append(f"{code.key}: no sold {code.sold.value} sentence")
        with language(lang):
            badge = status_badge(code.status)
            todo = " ".join(_("What to do: {action}").format(action=code.action.label).split())
            retries = [" ".join(a.label.split()) for a in (Action.RETRY_NOW, Action.RETRY_LATER)]
            refused = _("Check refused")
        if badge not in text or todo not in text:
            wrong.append(f"{code.key}: not its own status badge and what to do")
        if refused in text:
            wrong.append(f"{code.key}: says the check was refused")
        may_land = code.sold is not Sold.NO or code.resend in (Resend.NEVER, Resend.WAIT)
        if may_land and any(retry in text for retry in retries):
            wrong.append(f"{code.key}: says retry, yet sold is {code.sold.value}")
        for other, sentence in resend.items():
            if other is not code.resend and sentence in text:
                wrong.append(f"{code.key}: says {other} too")
    assert wrong == []


def test_the_sentences_differ_by_line_and_language(registry: Registry) -> None:
    en = sentences("en", dict(RESEND_SENTENCES[Line.PREPAID]))
    id_ = sentences("id", dict(RESEND_SENTENCES[Line.PREPAID]))
    assert all(en[key] != id_[key] for key in en)
    postpaid_42 = registry.rc("42", line=Line.POSTPAID)
    assert postpaid_42 is not None and postpaid_42.table is Table.POSTPAID
    assert "Pay the inquiry's tr_id" in card_text(postpaid_42, "en")
    assert "tr_id" in card_text(postpaid_42, "id")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_card_seen_on_a_refused_check_is_about_the_check(
    registry: Registry, lang: Language
) -> None:
    """Whatever the code, a refused check shows no outcome badge and no resend advice of the
    code's own: only that the outcome is unknown and the check needs fixing."""
    wrong: list[str] = []
    for code in registry:
        line = code.table.line
        with language(lang):
            blocks = remediation_blocks(code, seen=SeenAs.REFUSED_CHECK)
            badge = status_badge(code.status)
            advice = " ".join(refused_check_advice(line).split())
            own_advice = " ".join(code.translated_advice.split())
            refused_badge = _("Check refused")
            todo = _("What to do: {action}").format(action=refused_check_action())
        text = " ".join(visible_text({"text": "", "blocks": blocks}).split())
        if badge in text:
            wrong.append(f"{code.key}: shows {badge}")
        if refused_badge not in text or todo not in text:
            wrong.append(f"{code.key}: no Check refused badge and what to do about the check")
        if advice not in text:
            wrong.append(f"{code.key}: no refused-check advice")
        if own_advice in text:
            wrong.append(f"{code.key}: shows its own advice")
        for key, sentence in sentences(lang, dict(RESEND_SENTENCES[line])).items():
            if sentence in text:
                wrong.append(f"{code.key}: says {key}")
        if code.solution not in text:
            wrong.append(f"{code.key}: IAK's solution missing")
    assert wrong == []


@pytest.mark.parametrize("key", ["postpaid 02", "postpaid 42"])
def test_a_card_says_what_to_send_once(registry: Registry, key: str) -> None:
    """The resend sentence says it; the advice does not repeat it."""
    code = registry.get(key)
    assert code is not None
    with language("en"):
        blocks = remediation_card(code)["blocks"]
    text = " ".join(visible_text({"text": "", "blocks": blocks}).split())
    assert text.count("no new ref_id") == 1
    assert "the bill is unpaid and nothing was charged" in text
