"""IAK's products, from its prepaid and postpaid price lists: parsing and search.

One model serves both lists (and the bot's own cached copy of them): the prepaid list names
its fields `product_code`, `product_price`… (v1: `pulsa_code`, `pulsa_op`, `masaaktif`), the
postpaid one `code`, `name`, `fee`…, and each says "active" its own way.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.i18n import _
from bot.iak.models import _rupiah
from bot.registry import Line
from bot.shapes import JsonView

# A hostile or broken answer must not fill the database; IAK's lists hold a few thousand.
MAX_PRODUCTS = 20_000
MAX_TEXT = 200
_WORD = re.compile(r"[a-z]+|\d+")
# 100.000 / 100,000: one number, as the customer reads it
_THOUSANDS = re.compile(r"\d{1,3}(?:[.,]\d{3})+(?!\d)")
# 25k, 25rb, 25 ribu: shorthand for 25000
_SHORTHAND = re.compile(r"(\d+)\s*(?:k|rb|ribu)\b")
_ACTIVE = {"active": True, "1": True, "non active": False, "nonactive": False, "4": False}


class Product(BaseModel):
    """One product of IAK's price lists, prepaid or postpaid."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    line: Line
    code: str = Field(validation_alias=AliasChoices("code", "product_code", "pulsa_code"))
    # prepaid: the operator or brand ("Telkomsel", "Mobile Legend"); postpaid: the biller
    name: str | None = Field(
        default=None, validation_alias=AliasChoices("name", "product_description", "pulsa_op")
    )
    # prepaid: the denomination ("25000", "110 Diamonds", "Voucher Alfamart Rp 100.000")
    nominal: str | None = Field(
        default=None, validation_alias=AliasChoices("nominal", "product_nominal", "pulsa_nominal")
    )
    details: str | None = Field(
        default=None, validation_alias=AliasChoices("details", "product_details", "pulsa_details")
    )
    # prepaid: what IAK charges the deposit
    price: int | None = Field(
        default=None, validation_alias=AliasChoices("price", "product_price", "pulsa_price")
    )
    # postpaid: the admin fee added to each bill, and IAK's commission to us
    admin_fee: int | None = Field(default=None, validation_alias=AliasChoices("admin_fee", "fee"))
    commission: int | None = Field(
        default=None, validation_alias=AliasChoices("commission", "komisi")
    )
    type: str | None = Field(
        default=None, validation_alias=AliasChoices("type", "product_type", "pulsa_type")
    )
    category: str | None = Field(
        default=None, validation_alias=AliasChoices("category", "product_category")
    )
    # None when IAK's status is one the docs do not list
    active: bool | None = Field(default=None, validation_alias=AliasChoices("active", "status"))
    # prepaid credit and data: days the number stays active after the reload ("0": none)
    active_period: str | None = Field(
        default=None, validation_alias=AliasChoices("active_period", "masaaktif")
    )
    # postpaid PDAM (water) billers
    province: str | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _code(cls, value: object) -> str:
        text = _short_text(value)
        if text is None or any(char.isspace() for char in text):
            raise ValueError("a product code is one word")
        return text

    @field_validator(
        "name", "nominal", "details", "type", "category", "active_period", "province", mode="before"
    )
    @classmethod
    def _optional_text(cls, value: object) -> str | None:
        text = _short_text(value)
        # IAK writes "-" where it has nothing to say
        return None if text in (None, "-") else text

    @field_validator("price", "admin_fee", "commission", mode="before")
    @classmethod
    def _amount(cls, value: object) -> int | None:
        return _rupiah(value)

    @field_validator("active", mode="before")
    @classmethod
    def _active(cls, value: object) -> bool | None:
        if isinstance(value, bool) or value is None:
            return value
        return _ACTIVE.get(" ".join(str(value).lower().split()))

    @property
    def key(self) -> str:
        """What a button carries to find it again: `prepaid xld25000`."""
        return product_key(self.line, self.code)

    @property
    def active_days(self) -> int | None:
        """The active period in days, when IAK gives one."""
        period = self.active_period
        if period is None or not period.isdigit() or int(period) == 0:
            return None
        return int(period)


def product_key(line: Line, code: str) -> str:
    """One product of one list, as a button's value: `prepaid xld25000`, `postpaid BPJS`."""
    return f"{line.value} {code}"


def parse_product_key(value: str) -> tuple[Line, str] | None:
    """The line and code a `product_key` names; None for anything else."""
    line_name, __, code = value.partition(" ")
    try:
        line = Line(line_name)
    except ValueError:
        return None
    return (line, code) if code and " " not in code else None


def _short_text(value: object) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = " ".join(str(value).replace("\x00", "").split())
    return text[:MAX_TEXT] or None


def parse_price_list(line: Line, data: JsonView) -> tuple[Product, ...] | None:
    """The products of a price-list answer's `data`, or None when it holds no list.

    IAK's reference shows the prepaid list as `data` itself, its SDKs as `data.pricelist`;
    the postpaid one is `data.pasca`. Items that are not products are skipped, not fatal.
    """
    items: object = None
    for key in ("pricelist", "pasca", "items"):
        if isinstance(data.get(key), list):
            items = data[key]
            break
    if not isinstance(items, list):
        return None
    products: list[Product] = []
    seen: set[str] = set()
    for item in items[:MAX_PRODUCTS]:
        if not isinstance(item, dict):
            continue
        try:
            product = Product.model_validate({**item, "line": line})
        except ValidationError:
            continue
        if product.code.lower() not in seen:
            seen.add(product.code.lower())
            products.append(product)
    return tuple(products)


@dataclass(frozen=True)
class ProductFound:
    """The query is a product's code (or words only it matches, as `note` says)."""

    product: Product
    note: str | None = None


@dataclass(frozen=True)
class ProductMatches:
    """Products whose words match the query, best first; `partial` when none matches all."""

    query: str
    products: tuple[Product, ...]
    partial: bool = False


@dataclass(frozen=True)
class NoProduct:
    """Nothing matches; `suggestions` are codes spelled like the query."""

    query: str
    suggestions: tuple[Product, ...] = ()


ProductLookup = ProductFound | ProductMatches | NoProduct


def find_product(products: Sequence[Product], query: str) -> ProductLookup:
    """`xld25000` → that product; `telkomsel 25` → the products that match, best first."""
    query = " ".join(query.split())
    wanted = query.lower()
    for product in products:
        if product.code.lower() == wanted:
            return ProductFound(product)
    terms = _terms(query)
    if not terms:
        return NoProduct(query)
    scored: list[tuple[int, float, int, int, str, Product]] = []
    for product in products:
        words = _product_words(product)
        matched = 0
        score = 0.0
        for term in terms:
            weight = _match(term, words)
            if weight:
                matched += 1
                score += weight
        if matched:
            # More words matched, better matches, active ones, then the cheapest first.
            inactive = 0 if product.active is not False else 1
            price = product.price if product.price is not None else 10**15
            scored.append((-matched, -score, inactive, price, product.code.lower(), product))
    scored.sort(key=lambda row: row[:5])
    complete = [row[5] for row in scored if -row[0] == len(terms)]
    if len(complete) == 1:
        only = _("The only product matching “{query}”:").format(query=query)
        return ProductFound(complete[0], note=only)
    if complete:
        return ProductMatches(query, tuple(complete))
    # Several words: what matches most of them helps. One word that matches nothing is
    # usually a mistyped code: codes spelled like it help more.
    if scored and len(query.split()) > 1:
        return ProductMatches(query, tuple(row[5] for row in scored), partial=True)
    return NoProduct(query, _close_codes(products, wanted))


def _close_codes(products: Sequence[Product], wanted: str, limit: int = 3) -> tuple[Product, ...]:
    by_code = {product.code.lower(): product for product in products}
    close = difflib.get_close_matches(wanted, list(by_code), n=limit, cutoff=0.7)
    return tuple(by_code[code] for code in close)


def _terms(query: str) -> list[str]:
    text = _SHORTHAND.sub(lambda match: match.group(1) + "000", query.lower())
    return _WORD.findall(_THOUSANDS.sub(lambda match: re.sub(r"\D", "", match.group(0)), text))


def _product_words(product: Product) -> frozenset[str]:
    fields: Iterable[str | None] = (
        product.code,
        product.name,
        product.nominal,
        product.details,
        product.type,
        product.category,
        product.province,
    )
    words: set[str] = set()
    for text in fields:
        if text:
            words.update(_terms(text))
    return frozenset(words)


def _match(term: str, words: Iterable[str]) -> float:
    """How well one query word matches a product's words (0: not at all)."""
    best = 0.0
    for word in words:
        if word == term:
            return 1.0
        if term.isdigit():
            if word.isdigit() and word.startswith(term):
                # "25" for 25000: the thousands people leave out weigh more than other digits
                best = max(best, 0.9 if word == term + "000" else 0.5)
        elif len(term) >= 3 and word.startswith(term):
            best = max(best, 0.8)
        elif len(term) >= 4 and term in word:
            best = max(best, 0.5)  # "telkomsel" in the code "htelkomsel25000"
    return best
