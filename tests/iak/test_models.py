"""IAK payloads as IAK really sends them: v1/v2 names, strings or numbers, one outcome."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.iak.models import TransactionData, valid_ref_id
from bot.iak.signing import sign, verify
from bot.outcomes import Outcome, Source
from bot.registry import Registry

# IAK's documented samples (iak-api.md)
STATUS_SUCCESS = {
    "ref_id": "order001",
    "status": 1,
    "product_code": "xld25000",
    "customer_id": "0817777215",
    "price": 25000,
    "message": "SUCCESS",
    "sn": "123456789",
    "balance": 997061249,
    "tr_id": 3482,
    "rc": "00",
}
CALLBACK = {
    "ref_id": "order002",
    "status": "1",
    "product_code": "xld25000",
    "customer_id": "0817777215",
    "price": "25000",
    "message": "SUCCESS",
    "sn": "123456789",
    "balance": "997061249",
    "tr_id": "3482",
    "rc": "00",
    "sign": "96e1028f6beaa817ee3670a39c01c69d",
}


def test_status_answer_and_callback_parse_the_same() -> None:
    answer = TransactionData.model_validate(STATUS_SUCCESS)
    callback = TransactionData.model_validate(CALLBACK)
    for data in (answer, callback):
        assert data.status == 1
        assert data.price == 25000
        assert data.balance == 997061249
        assert data.tr_id == "3482"
        assert data.customer_id == "0817777215"
        assert data.product_code == "xld25000"


def test_v1_field_names() -> None:
    data = TransactionData.model_validate({"ref_id": "a1", "code": "hindosat5000", "hp": "0856"})
    assert data.product_code == "hindosat5000"
    assert data.customer_id == "0856"


@pytest.mark.parametrize(
    ("fields", "outcome"),
    [
        ({"status": 1, "rc": "00"}, Outcome.SUCCESS),
        ({"status": "2", "rc": "07"}, Outcome.FAILED),
        ({"status": "0", "rc": "39"}, Outcome.PENDING),
        ({"rc": "39"}, Outcome.PENDING),
        ({"rc": "201"}, Outcome.PENDING),  # documented Pending: not a failure (the JS SDK's bug)
        ({"rc": "17"}, Outcome.FAILED),
        ({"rc": 0}, Outcome.SUCCESS),
        ({"rc": "999"}, Outcome.UNKNOWN),
        ({}, Outcome.UNKNOWN),
    ],
)
def test_one_outcome_from_status_and_rc(
    registry: Registry, fields: dict[str, Any], outcome: Outcome
) -> None:
    data = TransactionData.model_validate({"ref_id": "r", **fields})
    assert data.outcome(registry, Source.INGEST) is outcome


@pytest.mark.parametrize("rc", ["102", "204", "110", "118"])
def test_a_refused_check_says_nothing_about_the_transaction(registry: Registry, rc: str) -> None:
    data = TransactionData.model_validate({"ref_id": "r", "rc": rc})
    assert data.outcome(registry, Source.STATUS_CHECK) is Outcome.UNKNOWN
    # ...while a top-up refused with it did fail
    assert data.outcome(registry, Source.INGEST) is Outcome.FAILED


@pytest.mark.parametrize("source", list(Source))
@pytest.mark.parametrize("status", [None, 0, 2, "2"])
def test_not_found_is_never_an_outcome(registry: Registry, source: Source, status: Any) -> None:
    """06: IAK has no such ref_id (yet, or in the environment asked). Whoever forwards it,
    whatever status rides along, the transaction stays undecided until IAK says more."""
    data = TransactionData.model_validate({"ref_id": "r", "rc": "06", "status": status})
    assert data.outcome(registry, source) is Outcome.UNKNOWN


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({}, "ref_id"),
        ({"ref_id": ""}, "ref_id"),
        ({"ref_id": "has space"}, "ref_id"),
        ({"ref_id": "x" * 101}, "ref_id"),
        ({"ref_id": "r", "status": "9"}, "status"),
        ({"ref_id": "r", "status": True}, "status"),
        ({"ref_id": ["r"]}, "ref_id"),
    ],
)
def test_bad_fields_are_refused_with_the_reason(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        TransactionData.model_validate(fields)


def test_unparseable_amounts_are_dropped_not_fatal() -> None:
    data = TransactionData.model_validate({"ref_id": "r", "price": "n/a", "balance": "1e400"})
    assert data.price is None
    assert data.balance is None
    assert TransactionData.model_validate({"ref_id": "r", "price": "25000.00"}).price == 25000


def test_ref_id_rules() -> None:
    assert valid_ref_id("order-001_A")
    assert not valid_ref_id("")
    assert not valid_ref_id("a b")
    assert not valid_ref_id("é")
    assert valid_ref_id("x" * 100)


def test_sign_matches_iaks_definition() -> None:
    # md5("082210138584" + "key" + "order001")
    import hashlib

    expected = hashlib.md5(b"082210138584keyorder001").hexdigest()
    assert sign("082210138584", "key", "order001") == expected
    assert sign("082210138584", "key", "bl") == hashlib.md5(b"082210138584keybl").hexdigest()
    assert verify("082210138584", "key", "order001", expected)
    assert verify("082210138584", "key", "order001", expected.upper())
    assert not verify("082210138584", "key", "order002", expected)
    assert not verify("082210138584", "key", "order001", None)
    assert not verify("082210138584", "key", "order001", 12345)
