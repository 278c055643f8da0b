"""What IAK and the merchant backend send to the bot, signed for the test credentials."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.support.bot import IAK_API_KEY, IAK_USERNAME

INGEST_TOKEN = "ingest-token-0123456789abcdef"


def iak_sign(ref_id: str) -> str:
    """IAK's sign for a ref_id, computed independently of the bot's own code."""
    return hashlib.md5(f"{IAK_USERNAME}{IAK_API_KEY}{ref_id}".encode()).hexdigest()


def callback_body(ref_id: str = "order002", **overrides: Any) -> dict[str, Any]:
    """IAK's documented callback sample, signed for our test credentials."""
    data = {
        "ref_id": ref_id,
        "status": "1",
        "product_code": "xld25000",
        "customer_id": "0817777215",
        "price": "25000",
        "message": "SUCCESS",
        "sn": "123456789",
        "balance": "997061249",
        "tr_id": "3482",
        "rc": "00",
        "sign": iak_sign(ref_id),
    }
    data.update(overrides)
    return {"data": data}


def topup_answer(ref_id: str = "order001", **overrides: Any) -> dict[str, Any]:
    """IAK's first answer to a top-up: always processing."""
    data = {
        "ref_id": ref_id,
        "status": 0,
        "product_code": "xld25000",
        "customer_id": "0817777215",
        "price": 25000,
        "message": "PROCESS",
        "balance": 997061249,
        "tr_id": 3482,
        "rc": "39",
    }
    data.update(overrides)
    return {"data": data}


def postpaid_answer(ref_id: str = "bill001", **overrides: Any) -> dict[str, Any]:
    """IAK's answer to a postpaid payment, as its check-status reference documents the
    fields: the code in `response_code`, the bill's fields, IAK's own `datetime` (WIB)."""
    data: dict[str, Any] = {
        "tr_id": 9732795,
        "code": "PLNPOSTPAID",
        "datetime": "20180803171608",
        "hp": "6391601202",
        "tr_name": "JAORAH",
        "period": "201405,201407",
        "nominal": 129610,
        "admin": 7500,
        "response_code": "00",
        "message": "PAYMENT SUCCESS",
        "price": 137110,
        "selling_price": 133510,
        "balance": 996850749,
        "noref": "1609626",
        "ref_id": ref_id,
        "desc": {"kode_area": "0751", "jumlah_tagihan": 3},
    }
    data.update(overrides)
    return {"data": {name: value for name, value in data.items() if value is not None}}
