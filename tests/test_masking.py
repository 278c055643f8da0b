"""Customer numbers and PLN tokens never appear whole in Slack."""

from __future__ import annotations

import pytest

from bot.logs import Redactor
from bot.masking import mask_customer_id, mask_name, mask_serial


def test_customer_number_masked_like_the_contract() -> None:
    assert mask_customer_id("0817777215") == "08***215"
    assert mask_customer_id("081234567890") == "081***890"
    assert mask_customer_id("12345678") == "12***78"
    assert mask_customer_id("12345") == "1***5"
    assert mask_customer_id("12") == "***"
    assert mask_customer_id(None) == "—"


def _shown(masked: str) -> int:
    return sum(1 for char in masked if char not in "*•")


@pytest.mark.parametrize("length", range(1, 31))
def test_a_mask_never_shows_more_than_half(length: int) -> None:
    number = "".join(str(n % 10) for n in range(1, length + 1))
    assert _shown(mask_customer_id(number)) <= length // 2
    assert _shown(mask_serial(number)) <= max(length // 2, 3)  # "-", "0": placeholders
    assert _shown(mask_serial("A" + number[1:])) <= max(length // 2, 3)
    logged = Redactor({})(f"hp={number}")
    if length >= 10:
        assert _shown(logged.removeprefix("hp=")) <= length // 2


def test_pln_token_is_mostly_hidden() -> None:
    serial = "1234-5678-9012-3456-7890/BUDI SANTOSO/R1/1300VA"
    masked = mask_serial(serial)
    assert masked == "1234-••••-••••-••••-7890/B***/R1/1300VA"
    assert "5678" not in masked and "SANTOSO" not in masked


def test_short_serials() -> None:
    assert mask_serial("123456789") == "12***89"
    assert mask_serial("12345") == "1***5"
    assert mask_serial("-") == "-"
    assert mask_serial(None) == "—"


def test_a_bill_name_keeps_its_initials_only() -> None:
    assert mask_name("JAORAH") == "J***"
    assert mask_name(" budi  santoso ") == "b*** s***"
    assert mask_name("") == "—"
    assert mask_name(None) == "—"
