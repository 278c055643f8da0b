"""The store's writer process for a SQLite file: it writes what it is sent, survives being
killed, refuses bad data without dying, follows its parent out, and stays small."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.iak.models import TransactionData
from bot.outcomes import Outcome, Source
from bot.registry import Registry
from bot.store.database import Database
from bot.store.db import create_db_engine
from bot.store.states import Observation
from bot.store.transactions import History, TransactionStore
from bot.store.writer import StoreRejected, StoreUnavailable, WriterProcess
from tests.support.db import sqlite_copy
from tests.support.transactions import seen

# scenario tests: the bot runs whole, over loopback or as processes
pytestmark = pytest.mark.slow


@pytest.fixture
def path(sqlite_template: Path, tmp_path: Path) -> str:
    return sqlite_copy(sqlite_template, tmp_path).removeprefix("sqlite:///")


@pytest.fixture
def child(path: str) -> Iterator[WriterProcess]:
    process = WriterProcess(path)
    process.launch(wait=True)
    yield process
    process.close()


def callback(registry: Registry, ref_id: str, rc: str = "00") -> Observation:
    outcome = "success" if rc == "00" else "failed"
    return seen(registry, ref_id, datetime.now(UTC), outcome, source=Source.CALLBACK, rc=rc)


def gone(pid: int, within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_batch_is_stored_and_answered_in_order(
    child: WriterProcess, path: str, registry: Registry
) -> None:
    results = child.write(
        [callback(registry, "w-1"), callback(registry, "w-2", "17"), callback(registry, "w-1")]
    )
    assert [r.duplicate for r in results] == [False, False, True]
    assert [r.outcome for r in results if r.outcome] == [
        Outcome.SUCCESS,
        Outcome.FAILED,
        Outcome.SUCCESS,
    ]
    engine = create_db_engine(f"sqlite:///{path}")
    state = TransactionStore(engine).get("w-2")
    engine.dispose()
    assert state is not None and state.rc == "17"


def test_a_killed_process_is_replaced_by_the_next_batch(
    child: WriterProcess, registry: Registry
) -> None:
    child.write([callback(registry, "k-1")])
    first = child.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    os.waitpid(first, 0)  # dead and reaped before the next batch comes
    (result,) = child.write([callback(registry, "k-2")])
    assert result.outcome is not None and not result.duplicate
    assert child.pid not in (None, first)


def test_what_the_database_refuses_is_rejected_not_an_outage(
    child: WriterProcess, registry: Registry
) -> None:
    naive = Observation(
        Source.CALLBACK,
        TransactionData.model_validate({"ref_id": "n-1", "status": "1"}),
        Outcome.SUCCESS,
        datetime(2026, 11, 28),
    )
    with pytest.raises(StoreRejected, match="naive datetime"):
        child.write([naive])
    (result,) = child.write([callback(registry, "n-2")])  # still there, still writing
    assert result.outcome is not None


def test_a_database_without_its_schema_is_unavailable(tmp_path: Path, registry: Registry) -> None:
    process = WriterProcess(str(tmp_path / "empty.db"))
    try:
        with pytest.raises(StoreUnavailable):
            process.write([callback(registry, "u-1")])
    finally:
        process.close()


def test_it_ignores_sigterm_and_leaves_when_closed(
    child: WriterProcess, registry: Registry
) -> None:
    """The platform sends SIGTERM to every process of a dyno; the parent decides when the
    writer stops, after its last batch."""
    pid = child.pid
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    (result,) = child.write([callback(registry, "t-1")])
    assert result.outcome is not None and child.pid == pid
    child.close()
    assert gone(pid)


def test_it_never_outlives_its_parent(path: str, tmp_path: Path) -> None:
    """A parent killed with SIGKILL cannot close anything: the process sees its pipe close."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import time\n"
        "from bot.store.writer import WriterProcess\n"
        f"process = WriterProcess({path!r})\n"
        "process.launch(wait=True)\n"
        "print(process.pid, flush=True)\n"
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


def test_it_loads_only_what_it_needs(child: WriterProcess, registry: Registry) -> None:
    """The writer process costs a web worker little memory: no web framework, no ORM, no
    pydantic, only the driver and the merge rules."""
    child.write([callback(registry, f"m-{n}") for n in range(200)])
    assert child.pid is not None
    status = Path(f"/proc/{child.pid}/status").read_text()
    resident_mb = int(status.split("VmRSS:")[1].split()[0]) / 1024
    assert resident_mb < 30, f"{resident_mb:.0f} MB"


def test_a_database_writes_in_a_process_on_a_sqlite_file_and_in_threads_elsewhere(
    database_url: str, registry: Registry
) -> None:
    database = Database(database_url)
    database.writer.start()
    children = subprocess.run(
        ["pgrep", "-P", str(os.getpid()), "-f", "bot.store.writer_process"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert len(children) == (1 if database_url.startswith("sqlite") else 0)

    async def store() -> object:
        return await database.writer.enqueue(callback(registry, "d-1"))

    recorded = asyncio.run(store())
    assert getattr(recorded, "outcome", None) is not None
    database.close()
    assert all(gone(int(pid)) for pid in children)


def test_a_one_off_command_writes_without_a_writer_process(path: str, registry: Registry) -> None:
    """`iak-bot status` in a terminal records the check it made: no writer process, no
    writer thread left behind, for one write."""
    database = Database(f"sqlite:///{path}")
    threads_before = threading.active_count()

    async def check() -> object:
        seen = callback(registry, "cli-1").data
        await database.writer.enqueue(
            Observation(Source.STATUS_CHECK, seen, Outcome.SUCCESS, datetime.now(UTC))
        )
        return database.transactions.history("cli-1")

    history = asyncio.run(check())
    assert isinstance(history, History) and len(history.events) == 1
    writers = subprocess.run(
        ["pgrep", "-P", str(os.getpid()), "-f", "bot.store.writer_process"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert writers == []
    assert threading.active_count() == threads_before
    database.close()


def test_it_loads_no_library_beyond_the_driver() -> None:
    """The writer process stays small because it imports the merge rules and the driver
    alone: a type alias that drags in SQLAlchemy would cost every SQLite worker megabytes."""
    probe = (
        "import sys, bot.store.writer_process;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'sqlalchemy', 'pydantic', 'fastapi', 'slack_bolt', 'httpx', 'babel'}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
