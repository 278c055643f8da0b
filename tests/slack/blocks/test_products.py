"""The `/iak product` cards: what ops read for a product, a search, an old or missing list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.iak.client import IakEndpoint
from bot.iak.products import NoProduct, Product, ProductFound, ProductMatches, parse_price_list
from bot.price_lists import PriceListView
from bot.registry import Line
from bot.slack.blocks.products import product_answer
from bot.slack.blocks.terminal import render
from tests.support.fakes.iak import POSTPAID_PRODUCTS, PREPAID_PRODUCTS, prepaid_product
from tests.support.messages import assert_valid, mrkdwn_texts, shown

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
PREPAID = IakEndpoint("production", "https://prepaid.iak.id")
POSTPAID = IakEndpoint("production", "https://mobilepulsa.net", Line.POSTPAID)


def products(line: Line, items: list[dict[str, object]]) -> tuple[Product, ...]:
    key = "pasca" if line is Line.POSTPAID else "pricelist"
    parsed = parse_price_list(line, {key: items})
    assert parsed is not None
    return parsed


def fresh(age: timedelta = timedelta(minutes=3)) -> list[PriceListView]:
    at = NOW - age
    return [
        PriceListView(Line.PREPAID, PREPAID, products(Line.PREPAID, PREPAID_PRODUCTS), at, at),
        PriceListView(Line.POSTPAID, POSTPAID, products(Line.POSTPAID, POSTPAID_PRODUCTS), at, at),
    ]


def test_a_prepaid_product_card() -> None:
    views = fresh()
    xl = views[0].products[0] if views[0].products else None
    assert xl is not None
    card = product_answer(ProductFound(xl), views, now=NOW)
    assert_valid(card)
    text = shown(card)
    assert card["blocks"][0]["text"]["text"] == "xld25000 · XL"
    for expected in ("Active", "Rp24.925", "30 days", "fetched 3 min ago", "(production)"):
        assert expected in text, expected
    assert "postpaid price list" not in text  # only its own list's age
    assert card["text"].startswith("xld25000 (XL): Rp24.925, active.")


def test_a_postpaid_product_card() -> None:
    views = fresh()
    assert views[1].products is not None
    bpjs = views[1].products[0]
    card = product_answer(ProductFound(bpjs), views, now=NOW)
    assert_valid(card)
    text = shown(card)
    for expected in ("BPJS Kesehatan", "Admin fee", "Rp2.500", "Commission to us", "Rp700"):
        assert expected in text, expected
    assert "Price*" not in text  # postpaid products have no price of their own


def test_a_stale_copy_is_said_first() -> None:
    views = fresh(timedelta(hours=5))
    views[0] = PriceListView(
        Line.PREPAID,
        PREPAID,
        views[0].products,
        views[0].fetched_at,
        NOW - timedelta(seconds=10),
        "could not reach IAK (ConnectError)",
    )
    assert views[0].products is not None
    card = product_answer(ProductFound(views[0].products[0]), views, now=NOW)
    assert_valid(card)
    warning = card["blocks"][1]["text"]["text"]
    assert "IAK's prepaid price list could not be refreshed" in warning
    assert "could not reach IAK (ConnectError)" in warning
    assert "This copy is 5 h old" in warning
    assert "(stale)" in shown(card)


def test_no_list_at_all() -> None:
    views = [
        PriceListView(Line.PREPAID, PREPAID, error="IAK did not answer in time (no answer)"),
        PriceListView(Line.POSTPAID, POSTPAID, error="could not reach IAK (ConnectError)"),
    ]
    card = product_answer(NoProduct("xld25000"), views, now=NOW)
    assert_valid(card)
    text = shown(card)
    assert "IAK's price list is not available" in text
    assert "No prepaid price list" in text and "No postpaid price list" in text
    assert "IAK did not answer in time" in card["text"]


def test_hostile_and_longest_products_fit_and_are_never_markup() -> None:
    hostile = "<!channel> *bold* <@U123|boss> & " + "x" * 300
    items = [
        prepaid_product(
            "<!here>" + "y" * 190, hostile, hostile, 10**14, product_details=hostile, type=hostile
        )
        for _ in range(1)
    ] + [prepaid_product(f"p{i}" + "z" * 190, hostile, hostile, 10**14) for i in range(500)]
    listed = products(Line.PREPAID, items)
    views = [PriceListView(Line.PREPAID, PREPAID, listed, NOW, NOW)]
    for message in (
        product_answer(ProductFound(listed[0], note=hostile), views, now=NOW),
        product_answer(ProductMatches(hostile, listed), views, now=NOW),
        product_answer(ProductMatches(hostile, listed, partial=True), views, now=NOW),
        product_answer(NoProduct(hostile, listed[:3]), views, now=NOW),
    ):
        assert_valid(message)
        for markup in ("<!channel>", "<!here>", "<@U123|boss>"):
            assert all(markup not in text for text in mrkdwn_texts(message["blocks"]))
            assert markup not in message["text"]


def test_the_terminal_shows_the_same_content() -> None:
    views = fresh()
    assert views[0].products is not None
    text = render(product_answer(ProductFound(views[0].products[0]), views, now=NOW))
    assert text.startswith("xld25000 · XL\n=============\n")
    assert "🟢 Active   Prepaid" in text
    assert "Price\nRp24.925" in text
    assert "*" not in text and "`" not in text
