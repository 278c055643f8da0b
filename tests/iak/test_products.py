"""Finding a product in IAK's price lists: by code, or by the words ops would type."""

from __future__ import annotations

import pytest

from bot.iak.products import (
    NoProduct,
    Product,
    ProductFound,
    ProductMatches,
    find_product,
    parse_price_list,
)
from bot.registry import Line
from tests.support.fakes.iak import POSTPAID_PRODUCTS, PREPAID_PRODUCTS, prepaid_product


@pytest.fixture(scope="module")
def products() -> tuple[Product, ...]:
    prepaid = parse_price_list(Line.PREPAID, {"pricelist": PREPAID_PRODUCTS})
    postpaid = parse_price_list(Line.POSTPAID, {"pasca": POSTPAID_PRODUCTS})
    assert prepaid is not None and postpaid is not None
    return prepaid + postpaid


def codes(result: object) -> list[str]:
    assert isinstance(result, ProductMatches)
    return [product.code for product in result.products]


@pytest.mark.parametrize("query", ["xld25000", "XLD25000", "  xld25000 "])
def test_a_code_finds_its_product_whatever_the_case(
    products: tuple[Product, ...], query: str
) -> None:
    result = find_product(products, query)
    assert isinstance(result, ProductFound)
    assert result.product.code == "xld25000"
    assert result.note is None


def test_postpaid_codes_are_found_too(products: tuple[Product, ...]) -> None:
    result = find_product(products, "bpjs")
    assert isinstance(result, ProductFound)
    assert result.product.line is Line.POSTPAID


def test_words_find_products_best_first(products: tuple[Product, ...]) -> None:
    # Every Telkomsel product; the active ones first, the cheapest of those first.
    assert codes(find_product(products, "telkomsel")) == [
        "htelkomsel5000",
        "htelkomsel25000",
        "htelkomsel50000",
    ]
    # "25" is how people say 25.000; so are 25k and 25rb.
    for query in ("25", "25k", "25rb", "25.000"):
        assert codes(find_product(products, query)) == [
            "xld25000",
            "htelkomsel25000",
            "hindosat25000",
        ], query


def test_words_only_one_product_matches_open_its_card(products: tuple[Product, ...]) -> None:
    result = find_product(products, "telkomsel 25")
    assert isinstance(result, ProductFound)
    assert result.product.code == "htelkomsel25000"
    assert result.note == "The only product matching “telkomsel 25”:"
    kabupaten = find_product(products, "pdam bogor")
    assert isinstance(kabupaten, ProductFound)
    assert kabupaten.product.code == "PDAMKAB.BOGOR"


def test_when_no_product_matches_every_word_the_closest_come_partial(
    products: tuple[Product, ...],
) -> None:
    result = find_product(products, "smartfren 25")
    assert isinstance(result, ProductMatches)
    assert result.partial
    assert {product.code for product in result.products} == {
        "xld25000",
        "htelkomsel25000",
        "hindosat25000",
    }


def test_nothing_found_offers_codes_spelled_alike(products: tuple[Product, ...]) -> None:
    typo = find_product(products, "xld2500O")
    assert isinstance(typo, NoProduct)
    assert "xld25000" in [product.code for product in typo.suggestions]
    nothing = find_product(products, "zzz")
    assert nothing == NoProduct("zzz")
    assert find_product(products, "!!!") == NoProduct("!!!")
    assert find_product((), "xld25000") == NoProduct("xld25000")


def test_a_product_survives_its_round_trip_through_json() -> None:
    (product,) = (
        parse_price_list(
            Line.PREPAID, {"pricelist": [prepaid_product("xld25000", "XL", "25000", 24925)]}
        )
        or ()
    )
    assert Product.model_validate(product.model_dump(mode="json")) == product
    assert product.key == "prepaid xld25000"
