"""The SQLite writer process: stores what the parent sends, survives being killed, refuses
what the database refuses, ignores the platform's SIGTERM and never outlives its parent."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.iak.models import Outcome, Source, TransactionData
from bot.store.database import WRITER_PROCESSES, Database
from bot.store.db import create_db_engine
from bot.store.transactions import Observation, TransactionStore
from bot.store.writer import StoreUnavailable
from bot.store.writer_process import ChildStore, StoreRejected
from tests.db import sqlite_copy

AT = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def callback(ref_id: str, rc: str = "00", at: datetime = AT) -> Observation:
    status = "1" if rc == "00" else "2"
    data = TransactionData.model_validate({"ref_id": ref_id, "status": status, "rc": rc})
    outcome = Outcome.SUCCESS if rc == "00" else Outcome.FAILED
    return Observation(Source.CALLBACK, data, outcome, at)


@pytest.fixture
def url(sqlite_template: Path, tmp_path: Path) -> str:
    return sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
def child(url: str) -> Iterator[ChildStore]:
    store = ChildStore(url)
    store.launch(wait=True)
    yield store
    store.close()


def child_pid(store: ChildStore) -> int:
    assert store._process is not None
    return store._process.pid


def gone(pid: int, within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_batch_is_stored_and_answered_in_order(child: ChildStore, url: str) -> None:
    results = child.record([callback("w-1"), callback("w-2", "17"), callback("w-1")])
    assert [r.duplicate for r in results] == [False, False, True]
    assert [r.state.outcome for r in results if r.state] == [
        Outcome.SUCCESS,
        Outcome.FAILED,
        Outcome.SUCCESS,
    ]
    engine = create_db_engine(url)
    state = TransactionStore(engine).get("w-2")
    engine.dispose()
    assert state is not None and state.rc == "17"


def test_a_killed_child_is_replaced_by_the_next_batch(child: ChildStore, url: str) -> None:
    child.record([callback("k-1")])
    first = child_pid(child)
    os.kill(first, signal.SIGKILL)
    assert child._process is not None
    child._process.wait(10)
    (result,) = child.record([callback("k-2")])
    assert result.state is not None and not result.duplicate
    assert child_pid(child) != first


def test_what_the_database_refuses_is_rejected_not_an_outage(child: ChildStore) -> None:
    naive = Observation(
        Source.CALLBACK,
        TransactionData.model_validate({"ref_id": "n-1", "status": "1"}),
        Outcome.SUCCESS,
        datetime(2026, 11, 28),
    )
    with pytest.raises(StoreRejected, match="naive datetime"):
        child.record([naive])
    # the child is still there and still writes
    (result,) = child.record([callback("n-2")])
    assert result.state is not None


def test_a_database_without_its_schema_is_unavailable(tmp_path: Path) -> None:
    store = ChildStore(f"sqlite:///{tmp_path}/empty.db")
    try:
        with pytest.raises(StoreUnavailable, match="no such table"):
            store.record([callback("u-1")])
    finally:
        store.close()


def test_the_child_ignores_sigterm_and_leaves_when_closed(child: ChildStore) -> None:
    """The platform sends SIGTERM to every process of a dyno; the parent decides when the
    writer stops, after its last batch."""
    pid = child_pid(child)
    os.kill(pid, signal.SIGTERM)
    (result,) = child.record([callback("t-1")])
    assert result.state is not None and child_pid(child) == pid
    child.close()
    assert gone(pid)


def test_the_child_never_outlives_its_parent(url: str, tmp_path: Path) -> None:
    """A parent killed with SIGKILL cannot close anything: the child sees its pipe close."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        "from bot.store.writer_process import ChildStore\n"
        f"store = ChildStore({url!r})\n"
        "store.launch(wait=True)\n"
        "print(store._process.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        parent.kill()
        parent.wait()
        assert gone(pid)
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def test_a_database_writes_through_its_own_processes(database_url: str) -> None:
    """One writer process on SQLite, a few on Postgres; all gone once it is closed."""
    database = Database(database_url)
    database.writer.start()
    expected = 1 if database_url.startswith("sqlite") else WRITER_PROCESSES
    assert len(database.children) == expected
    pids = [child_pid(child) for child in database.children]
    recorded = asyncio.run(database.record(callback("d-1")))
    assert recorded.state is not None and recorded.state.outcome is Outcome.SUCCESS
    database.close()
    assert all(gone(pid) for pid in pids)
