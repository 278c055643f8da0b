"""Transactions for report tests, recorded straight into the store at chosen times.

Scenario tests put a few transactions in over HTTP (see tests/test_intake.py); reports
need many, at times of the test's choosing, so these go through the store's own writer
path (`TransactionStore.record`), batched.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.iak.models import TransactionData
from bot.outcomes import Source
from bot.registry import Registry
from bot.store.states import Observation
from bot.store.transactions import TransactionStore
from bot.store.writer import InProcess

CUSTOMER = "0817777215"
_FIELDS = {
    "pending": {"status": 0, "rc": "39", "message": "PROCESS"},
    "success": {"status": 1, "rc": "00", "message": "SUCCESS"},
    "unknown": {"rc": "999"},  # an rc IAK never published: outcome unknown
}


def seen(
    registry: Registry,
    ref_id: str,
    at: datetime,
    outcome: str = "pending",
    *,
    source: Source = Source.INGEST,
    **fields: Any,
) -> Observation:
    """An observation of `ref_id` at `at`: pending, success, unknown, or failed with `rc`."""
    values: dict[str, Any] = {
        "ref_id": ref_id,
        "product_code": "xld25000",
        "customer_id": CUSTOMER,
        "price": 25000,
    }
    if outcome == "failed":
        values.update(status=2, message="FAILED")
    else:
        values.update(_FIELDS[outcome])
    values.update(fields)
    data = TransactionData.model_validate(values)
    return Observation(source, data, data.outcome(registry, source), at)


def record_all(store: TransactionStore, observations: Iterable[Observation]) -> None:
    """Record in batches as the bot's writer would (one database transaction per batch)."""
    batch: list[Observation] = []
    for observation in observations:
        batch.append(observation)
        if len(batch) == 500:
            InProcess(store.engine).write(batch)
            batch = []
    if batch:
        InProcess(store.engine).write(batch)
