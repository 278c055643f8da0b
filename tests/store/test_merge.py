"""State only moves forward, whatever order observations arrive in (pure rules)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from itertools import permutations
from typing import Any

from bot.iak.models import TransactionData
from bot.outcomes import Outcome, Source
from bot.registry import Registry
from bot.store.states import REPORTED_FIELDS, Observation, TransactionState, merge

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def observe(registry: Registry, source: Source, minutes: int = 0, **fields: Any) -> Observation:
    data = TransactionData.model_validate({"ref_id": "order001", **fields})
    return Observation(
        source, data, data.outcome(registry, source), T0 + timedelta(minutes=minutes)
    )


def fold(observations: list[Observation]) -> TransactionState | None:
    state: TransactionState | None = None
    for observation in observations:
        state = merge(state, observation)
    return state


def test_first_observation_creates_the_state(registry: Registry) -> None:
    state = merge(
        None, observe(registry, Source.INGEST, status=0, rc="39", customer_id="0817777215")
    )
    assert state is not None
    assert state.outcome is Outcome.PENDING
    assert state.first_seen_at == T0
    assert state.final_at is None
    assert state.customer_id == "0817777215"


def test_a_late_pending_never_overwrites_a_final(registry: Registry) -> None:
    success = observe(registry, Source.CALLBACK, 1, status="1", rc="00", sn="123")
    pending = observe(registry, Source.INGEST, 2, status=0, rc="39", price=25000)
    state = fold([success, pending])
    assert state is not None
    assert state.outcome is Outcome.SUCCESS
    assert state.rc == "00"
    assert state.price == 25000  # missing details are still filled in
    assert state.final_at == success.observed_at


def test_every_arrival_order_ends_in_the_same_final_state(registry: Registry) -> None:
    observations = [
        observe(registry, Source.INGEST, 0, status=0, rc="39"),
        observe(registry, Source.STATUS_CHECK, 1, status=0, rc="39"),
        observe(registry, Source.CALLBACK, 2, status="2", rc="17"),
        observe(registry, Source.STATUS_CHECK, 3, rc="204"),  # a refused check: says nothing
    ]
    finals = set()
    for order in permutations(observations):
        state = fold(list(order))
        assert state is not None
        finals.add((state.outcome, state.rc))
    assert finals == {(Outcome.FAILED, "17")}


def test_a_duplicate_changes_nothing(registry: Registry) -> None:
    callback = observe(registry, Source.CALLBACK, 1, status="1", rc="00")
    state = merge(None, callback)
    assert merge(state, callback) == state


def test_only_a_live_check_corrects_a_final_outcome(registry: Registry) -> None:
    failed = fold([observe(registry, Source.CALLBACK, 1, status="2", rc="07")])
    late_success_callback = observe(registry, Source.CALLBACK, 2, status="1", rc="00")
    assert merge(failed, late_success_callback).outcome is Outcome.FAILED  # type: ignore[union-attr]
    live_success = observe(registry, Source.STATUS_CHECK, 3, status=1, rc="00")
    corrected = merge(failed, live_success)
    assert corrected is not None
    assert corrected.outcome is Outcome.SUCCESS
    assert corrected.source is Source.STATUS_CHECK


def test_a_failed_check_of_an_unknown_ref_id_stores_nothing(registry: Registry) -> None:
    assert merge(None, observe(registry, Source.STATUS_CHECK, rc="06")) is None


def test_pending_reason_moves_on_but_unknown_never_replaces_pending(registry: Registry) -> None:
    state = fold(
        [
            observe(registry, Source.INGEST, 0, status=0, rc="39"),
            observe(registry, Source.STATUS_CHECK, 1, rc="201"),
        ]
    )
    assert state is not None
    assert (state.outcome, state.rc) == (Outcome.PENDING, "201")
    unknown = observe(registry, Source.INGEST, 2, rc="999")
    assert merge(state, unknown).outcome is Outcome.PENDING  # type: ignore[union-attr]


def test_an_observation_reaches_the_writer_process_with_every_value(registry: Registry) -> None:
    """Pickled as the batches reach the writer process: every reported value in its own
    field (none swapped with another), the same fingerprint, the same merge."""
    sent = observe(
        registry,
        Source.CALLBACK,
        status="1",
        rc="00",
        product_code="xld25000",
        customer_id="0817777215",
        price="25000",
        balance="997061249",
        tr_id="3482",
        sn="123456789",
        message="SUCCESS",
    )
    received = pickle.loads(pickle.dumps(sent))  # noqa: S301 - our own bytes
    for name in REPORTED_FIELDS:
        assert getattr(received.data, name) == getattr(sent.data, name), name
    assert received.encoded() == sent.encoded()
    assert merge(None, received) == merge(None, sent)
