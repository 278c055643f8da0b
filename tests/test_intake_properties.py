"""Property: whatever a caller sends to the intake routes, the answer is 2xx or 4xx and the
stored data stays consistent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.iak.models import valid_ref_id
from bot.outcomes import Outcome
from bot.registry import Registry
from bot.store.schema import transaction_events, transactions
from tests.support.bot import RunningBot, bot_server
from tests.support.intake import INGEST_TOKEN, iak_sign

# One worker runs the whole module, in order: the last test checks what the others stored
# (scripts/test.sh distributes with --dist loadgroup, which honours this).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("intake-fuzzing")]

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=15,
)
ref_ids = (
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12)
    | json_scalars
)
fields = {
    "ref_id": ref_ids,
    "status": st.sampled_from([0, 1, 2, "0", "1", "2", "3", -1, None, "", "x", 1.5, True]),
    "rc": st.sampled_from(["00", "39", "17", "07", "201", "06", "999", 17, 0, None, "", [1]]),
    "price": st.one_of(st.integers(), st.text(max_size=12), st.floats(), st.none()),
    "balance": st.one_of(st.integers(), st.text(max_size=12), st.none()),
    "customer_id": st.one_of(
        st.text(max_size=20), st.integers(), st.none(), st.lists(st.integers())
    ),
    "hp": st.one_of(st.text(max_size=20), st.none()),
    "code": st.one_of(st.text(max_size=20), st.none()),
    "tr_id": st.one_of(
        st.integers(), st.text(max_size=10), st.none(), st.dictionaries(st.text(), st.integers())
    ),
    "sn": st.one_of(st.text(max_size=40), st.none()),
    # lone surrogates and NUL: valid JSON escapes no database can store
    "message": st.text(st.characters(exclude_categories=()), max_size=5),
}
data_objects = st.fixed_dictionaries({}, optional=fields)
iak_like = st.fixed_dictionaries({"data": data_objects}, optional={"created_at": json_scalars})
# Bodies IAK could plausibly send, so that much of the fuzzing reaches the store.
valid_ref_ids = st.text(alphabet="abcdefgh0123-_", min_size=1, max_size=6)
plausible = st.fixed_dictionaries(
    {
        "data": st.fixed_dictionaries(
            {"ref_id": valid_ref_ids, "status": st.sampled_from([0, 1, 2, "0", "1", "2", None])},
            optional={
                "rc": st.sampled_from(["00", "39", "17", "07", "201", "06", "999", 17, None]),
                "price": st.one_of(st.integers(-10, 10**9), st.text(max_size=8)),
                "balance": st.one_of(st.integers(), st.text(max_size=8), st.none()),
                "customer_id": st.text(max_size=15),
                "product_code": st.text(max_size=15),
                "sn": st.text(max_size=40),
                "message": st.text(max_size=20),
            },
        )
    },
    optional={"created_at": st.sampled_from(["2026-11-28T10:00:00+07:00", None])},
)
bodies = plausible | iak_like | json_values.map(lambda value: {"data": value}) | json_values


def encode(body: Any, *, signed: bool) -> bytes:
    if signed and isinstance(body, dict) and isinstance(body.get("data"), dict):
        ref_id = body["data"].get("ref_id")
        if isinstance(ref_id, str):
            body = {**body, "data": {**body["data"], "sign": iak_sign(ref_id.strip())}}
    return json.dumps(body).encode()


@pytest.fixture(scope="module")
def fuzz_bot(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[RunningBot]:
    """One bot for the whole module: the consistency check reads what the fuzzing stored."""
    directory = tmp_path_factory.mktemp("fuzz")
    with bot_server(registry, directory, sqlite_template, ingest_token=INGEST_TOKEN) as running:
        yield running


def assert_consistent(bot: RunningBot) -> int:
    with bot.bot.services.database.engine.connect() as connection:
        rows = connection.execute(select(transactions)).all()
        events = connection.execute(select(transaction_events)).all()
    by_ref: dict[str, list[Any]] = {}
    for event in events:
        by_ref.setdefault(event.ref_id, []).append(event)
    for row in rows:
        assert valid_ref_id(row.ref_id)
        outcome = Outcome(row.outcome)
        assert (row.final_at is not None) == outcome.is_final
        assert row.first_seen_at <= row.changed_at
        history = by_ref.get(row.ref_id, [])
        assert history, f"{row.ref_id} has no history"
        assert history[0].applied
        assert row.outcome in {event.outcome for event in history}
    assert set(by_ref) <= {row.ref_id for row in rows}
    return len(rows)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies, signed=st.booleans())
def test_callback_never_5xx(fuzz_bot: RunningBot, body: Any, signed: bool) -> None:
    response = fuzz_bot.slack.http.post(
        fuzz_bot.url + "/iak/callback", content=encode(body, signed=signed)
    )
    assert 200 <= response.status_code < 500, response.text
    assert response.json()["ok"] is (response.status_code == 200)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies)
def test_ingest_never_5xx(fuzz_bot: RunningBot, body: Any) -> None:
    response = fuzz_bot.slack.http.post(
        fuzz_bot.url + "/transactions",
        content=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
    )
    assert 200 <= response.status_code < 500, response.text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=200))
def test_raw_bytes_never_5xx(fuzz_bot: RunningBot, raw: bytes) -> None:
    for path in ("/iak/callback", "/transactions"):
        response = fuzz_bot.slack.http.post(
            fuzz_bot.url + path, content=raw, headers={"Authorization": f"Bearer {INGEST_TOKEN}"}
        )
        assert 400 <= response.status_code < 500


KNOWN_GOOD = [
    {"data": {"ref_id": "good-1", "status": "1", "rc": "00", "price": 25000, "sn": "1234"}},
    {"data": {"ref_id": "good-2", "status": "2", "rc": "17", "price": "25000"}},
    {"data": {"ref_id": "good-3", "status": 0, "rc": "39"}},
    {"data": {"ref_id": "good-1", "status": "2", "rc": "07"}},  # contradicts good-1
]


def test_stored_state_is_consistent_after_fuzzing(fuzz_bot: RunningBot) -> None:
    """Whatever the property tests of this module stored on this bot (when they ran first,
    on its worker), and a few bodies known to be storable, leave a consistent store."""
    for n, body in enumerate(KNOWN_GOOD):
        route = "/iak/callback" if n % 2 else "/transactions"
        response = fuzz_bot.slack.http.post(
            fuzz_bot.url + route,
            content=encode(body, signed=True),
            headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
        )
        assert response.status_code == 200, response.text
    stored = assert_consistent(fuzz_bot)
    assert stored >= 3
    print(f"{stored} transactions stored by fuzzing and known bodies")
