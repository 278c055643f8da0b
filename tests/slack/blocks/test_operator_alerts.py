"""How an operator in trouble looks, in English and in Indonesian: its rate (or time to
deliver) now and usually, its worst products and codes, what else sells; every message
within Block Kit's limits, outside text never markup."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.i18n import language
from bot.incidents.kinds.operator import Measure, OperatorDetails, ProductFigures
from bot.incidents.kinds.product import Alternative
from bot.incidents.model import (
    Escalated,
    Incident,
    IncidentKind,
    IncidentStatus,
    MuteEnded,
    Resolved,
)
from bot.registry import Registry
from bot.slack.alerts.kinds import renderer
from bot.slack.alerts.render import parent_message, reply_message
from tests.support.messages import (
    assert_valid,
    controls,
    markup_texts,
    stray_brackets,
    visible_text,
)

NOW = datetime(2026, 8, 28, 7, 5, tzinfo=UTC)  # 14:05 WIB
OPENED = NOW - timedelta(minutes=40)  # 13:25 WIB

RATE = OperatorDetails(
    operator="Telkomsel",
    measure=Measure.RATE,
    window_seconds=900,
    final=29,
    failed=11,
    usual_rate=0.98,
    usual_final=12_500,
    median_seconds=12.0,
    usual_median_seconds=11.0,
    refreshed_at=NOW,
    lowest_rate=0.55,
    products=(ProductFigures("tsel25", 16, 6), ProductFigures("tsel50", 13, 5)),
    codes={"07": 6, "106": 5},
    alternatives=(Alternative("tsel25b", 25_200), Alternative("tsel25d", None)),
    price_list_at=NOW - timedelta(minutes=3),
)
SLOW = replace(
    RATE,
    operator="XL",
    measure=Measure.SLOW,
    final=25,
    failed=0,
    median_seconds=510.0,
    usual_median_seconds=12.5,
    longest_median_seconds=540.0,
    products=(ProductFigures("xld25000", 25, 0, 510.0),),
    codes={},
    alternatives=(),
)


def incident(details: OperatorDetails, *, open_: bool = True) -> Incident:
    key = details.operator if details.measure is Measure.RATE else f"slow:{details.operator}"
    return Incident(
        7,
        IncidentKind.OPERATOR,
        key,
        IncidentStatus.OPEN if open_ else IncidentStatus.RESOLVED,
        OPENED,
        NOW,
        None if open_ else NOW,
        "C0ALERTS",
        "1700000000.000007",
        details,
    )


def shown(details: OperatorDetails, registry: Registry, *, open_: bool = True) -> str:
    message = parent_message(incident(details, open_=open_), NOW, registry, mask=True)
    assert_valid(message)
    return visible_text(message)


def test_the_parent_names_the_operator_its_rate_and_usual_products_codes_and_alternatives(
    registry: Registry,
) -> None:
    text = shown(RATE, registry)
    assert "Telkomsel: 62.1 % success in the last 15 min (usually 98 %)" in text
    assert "*11* of 29 final top-ups failed" in text
    assert "Usually *98 %* (its previous 7 days, 12,500 final top-ups)" in text
    assert "Lowest *55 %* since 13:25 WIB" in text
    assert "Worst products: tsel25 (6 of 16 failed), tsel50 (5 of 13 failed)" in text
    assert "Codes: 07 FAILED (6), 106 PRODUCT IS TEMPORARILY OUT OF SERVICE (5)" in text
    assert "Active alternatives" in text and "tsel25b (Rp25.200), tsel25d" in text
    assert "Mute Telkomsel for 24 h, new incidents too" in text


def test_a_thin_history_says_what_it_was_judged_against(registry: Registry) -> None:
    text = shown(replace(RATE, usual_rate=0.95, usual_final=40), registry)
    assert "too little history (40 final top-ups" in text and "judged against 95 %" in text


def test_without_a_price_list_or_alternatives_it_says_why(registry: Registry) -> None:
    assert "price list is not cached yet" in shown(replace(RATE, price_list_at=None), registry)
    assert "No other active XL product of the same nominal" in shown(SLOW, registry)


def test_a_slow_operator_shows_its_median_against_its_usual(registry: Registry) -> None:
    text = shown(SLOW, registry)
    assert "XL: top-ups take 8 min (usually 12 s)" in text
    assert "Median time to final *8 min* over 25 top-ups in the last 15 min" in text
    assert "(*41×*)" in text
    assert "Slowest products: xld25000 (8 min, 25 top-ups)" in text
    assert "Mute slow XL for 24 h" in text


def test_resolved_parents_replies_and_follow_ups(registry: Registry) -> None:
    done = shown(RATE, registry, open_=False)
    assert "Resolved: Telkomsel's success rate" in done and "lowest success rate 55 %" in done
    assert "Active alternatives" not in done
    assert "the longest median was 9 min" in shown(SLOW, registry, open_=False)
    said = reply_message(
        incident(replace(RATE, final=30, failed=1)), Resolved(2400), registry, mask=True
    )
    assert said["text"] == (
        "Resolved after 40 min: Telkomsel's success rate is back to 96.7 % (usually 98 %)."
    )
    escalated = reply_message(incident(RATE), Escalated(3600), registry, mask=True)
    assert "62.1 % success in the last 15 min (lowest 55 %)" in escalated["text"]
    ended = reply_message(incident(SLOW), MuteEnded("U0LEAD"), registry, mask=True)
    assert "still open" in ended["text"]
    home = renderer(IncidentKind.OPERATOR).title(incident(SLOW), registry)
    assert home == "XL: top-ups take 8 min (usually 12 s)"


def test_in_indonesian(registry: Registry) -> None:
    with language("id"):
        text = shown(RATE, registry)
        assert "Telkomsel: 62,1% berhasil dalam 15 mnt terakhir (biasanya 98%)" in text
        assert "Produk terburuk: tsel25 (6 dari 16 gagal)" in text
        assert "12.500 top-up final" in text
        assert "Alternatif aktif" in text
        slow = shown(SLOW, registry)
        assert "XL: top-up butuh 8 mnt (biasanya 12 dtk)" in slow
        assert "Produk paling lambat: xld25000 (8 mnt, 25 top-up)" in slow
        assert "Mute XL lambat 24 jam" in slow
        assert "Selesai: tingkat keberhasilan Telkomsel" in shown(RATE, registry, open_=False)
        said = reply_message(incident(RATE), Resolved(2400), registry, mask=True)
        assert said["text"].startswith("Selesai setelah 40 mnt: tingkat keberhasilan Telkomsel")


@pytest.mark.parametrize("lang", ["en", "id"])
@pytest.mark.parametrize("hostile", ["<!channel>", "<@U0BOSS>", "*bold* & <https://x|y>"])
def test_the_longest_and_hostile_names_fit_and_stay_text(
    registry: Registry, lang: str, hostile: str
) -> None:
    name = (hostile + " ") * 30
    worst = tuple(ProductFigures(f"{hostile}{n}" * 3, 10**6, 10**5, 7200.0) for n in range(5))
    details = replace(
        RATE,
        operator=name,
        products=worst,
        codes={"999": 10**6, "07": 5},
        alternatives=tuple(Alternative(hostile * 10, 10**9) for _ in range(5)),
    )
    with language(lang):
        for measure in Measure:
            for open_ in (True, False):
                message = parent_message(
                    incident(replace(details, measure=measure), open_=open_),
                    NOW,
                    registry,
                    mask=True,
                )
                assert_valid(message)
                # nothing Slack would act on: no mention, no link (the buttons carry ids)
                for text in markup_texts(message):
                    assert controls(text) == [] and not stray_brackets(text)
