"""Customer numbers and PLN tokens never appear whole in Slack."""

from __future__ import annotations

from bot.masking import mask_customer_id, mask_name, mask_serial


def test_customer_number_masked_like_the_contract() -> None:
    assert mask_customer_id("0817777215") == "0817***215"
    assert mask_customer_id("081234567890") == "0812***890"
    assert mask_customer_id("12345") == "12***5"
    assert mask_customer_id("12") == "***"
    assert mask_customer_id(None) == "—"


def test_pln_token_is_mostly_hidden() -> None:
    serial = "1234-5678-9012-3456-7890/BUDI SANTOSO/R1/1300VA"
    masked = mask_serial(serial)
    assert masked == "1234-••••-••••-••••-7890/B***/R1/1300VA"
    assert "5678" not in masked and "SANTOSO" not in masked


def test_short_serials() -> None:
    assert mask_serial("123456789") == "123***789"
    assert mask_serial("12345") == "12345"
    assert mask_serial(None) == "—"


def test_a_bill_name_keeps_its_initials_only() -> None:
    assert mask_name("JAORAH") == "J***"
    assert mask_name(" budi  santoso ") == "b*** s***"
    assert mask_name("") == "—"
    assert mask_name(None) == "—"
