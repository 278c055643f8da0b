"""The transaction store on SQLite and Postgres: durable, idempotent, race-free, indexed."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from bot.iak.models import TransactionData
from bot.incidents.kinds.pending import aged_out
from bot.outcomes import Line, Outcome, Source
from bot.registry import Registry
from bot.store.db import create_db_engine
from bot.store.reports import failures_by_rc
from bot.store.schema import transaction_events, transactions
from bot.store.states import Observation
from bot.store.transactions import TransactionStore
from bot.store.writer import InProcess, StoreRejected
from tests.support.db import TEST_DATABASE_URL, postgres_schema

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def observation(
    registry: Registry,
    ref_id: str,
    source: Source = Source.CALLBACK,
    minutes: float = 0,
    **fields: Any,
) -> Observation:
    data = TransactionData.model_validate({"ref_id": ref_id, **fields})
    return Observation(
        source, data, data.outcome(registry, source), T0 + timedelta(minutes=minutes)
    )


@pytest.fixture
def store(database_url: str) -> TransactionStore:
    engine = create_db_engine(database_url)
    yield TransactionStore(engine)  # type: ignore[misc]
    engine.dispose()


def count(store: TransactionStore, table: Any) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_record_and_read_back(store: TransactionStore, registry: Registry) -> None:
    (result,) = InProcess(store.engine).write(
        [
            observation(
                registry,
                "order001",
                Source.INGEST,
                status=0,
                rc="39",
                customer_id="0817777215",
                product_code="xld25000",
                price="25000",
                balance=997061249,
                tr_id=3482,
            )
        ],
    )
    assert result.changed and not result.duplicate
    state = store.get("order001")
    assert state is not None
    assert state.outcome is Outcome.PENDING
    assert state.first_seen_at == T0
    assert state.price == 25000
    assert state.tr_id == "3482"
    assert store.get("nope") is None


def test_duplicates_are_stored_once(store: TransactionStore, registry: Registry) -> None:
    callback = observation(registry, "order002", status="1", rc="00", sn="123456789", sign="abc")
    first, second = InProcess(store.engine).write([callback, callback])
    assert not first.duplicate and second.duplicate
    (third,) = InProcess(store.engine).write(
        [
            observation(
                registry, "order002", minutes=5, status="1", rc="00", sn="123456789", sign="abc"
            )
        ],
    )
    assert third.duplicate and not third.changed
    assert count(store, transaction_events) == 1
    assert [event.source for event in store.history("order002").events] == [Source.CALLBACK]


def test_out_of_order_arrivals_end_final(store: TransactionStore, registry: Registry) -> None:
    InProcess(store.engine).write([observation(registry, "order003", status="2", rc="17")])
    (late,) = InProcess(store.engine).write(
        [observation(registry, "order003", Source.INGEST, 1, status=0, rc="39")]
    )
    assert not late.changed
    state = store.get("order003")
    assert state is not None and state.outcome is Outcome.FAILED and state.rc == "17"
    history = store.history("order003").events
    assert [(e.source, e.outcome, e.applied) for e in history] == [
        (Source.CALLBACK, Outcome.FAILED, True),
        (Source.INGEST, Outcome.PENDING, False),
    ]


def test_one_batch_can_touch_one_ref_id_many_times(
    store: TransactionStore, registry: Registry
) -> None:
    results = InProcess(store.engine).write(
        [
            observation(registry, "order004", Source.INGEST, 0, status=0, rc="39"),
            observation(registry, "order005", Source.INGEST, 0, status=0, rc="39"),
            observation(registry, "order004", Source.CALLBACK, 1, status="1", rc="00"),
        ],
    )
    assert [r.outcome for r in results if r.outcome] == [
        Outcome.PENDING,
        Outcome.PENDING,
        Outcome.SUCCESS,
    ]
    assert store.get("order004").outcome is Outcome.SUCCESS  # type: ignore[union-attr]
    assert count(store, transactions) == 2


def test_failed_check_of_unknown_ref_id_leaves_no_row(
    store: TransactionStore, registry: Registry
) -> None:
    (result,) = InProcess(store.engine).write(
        [observation(registry, "typo", Source.STATUS_CHECK, rc="06")]
    )
    assert result.outcome is None
    assert count(store, transactions) == 0


def test_monitor_queries(store: TransactionStore, registry: Registry) -> None:
    InProcess(store.engine).write(
        [
            observation(registry, "p-old", Source.INGEST, 0, status=0, rc="39"),
            observation(registry, "p-new", Source.INGEST, 20, status=0, rc="39"),
            observation(registry, "f1", Source.CALLBACK, 5, status="2", rc="17"),
            observation(registry, "f2", Source.CALLBACK, 6, status="2", rc="17"),
            observation(registry, "f3", Source.CALLBACK, 7, status="2", rc="07"),
            observation(registry, "ok", Source.CALLBACK, 8, status="1", rc="00"),
        ],
    )
    with store.engine.connect() as connection:
        pending = aged_out(connection, T0 + timedelta(minutes=10), limit=100)
        assert [transaction.ref_id for transaction in pending] == ["p-old"]
        assert failures_by_rc(connection, T0) == {"17": 2, "07": 1}
        assert failures_by_rc(connection, T0 + timedelta(minutes=6)) == {"17": 1, "07": 1}
        assert failures_by_rc(connection, T0, T0 + timedelta(minutes=6)) == {"17": 1}


def test_rows_written_through_the_driver_read_back_through_sqlalchemy(
    store: TransactionStore, registry: Registry
) -> None:
    """Writes go to the driver directly (the hot path); what they store must be exactly what
    SQLAlchemy's column types bind and read: times compare equal to the microsecond, JSON
    history reads back as data, and an update lands on the same row."""
    wib = timezone(timedelta(hours=7))
    at = datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=wib)
    pending = TransactionData.model_validate({"ref_id": "exact-1", "status": 0, "rc": "39"})
    failed = TransactionData.model_validate({"ref_id": "exact-1", "status": "2", "rc": "17"})
    InProcess(store.engine).write(
        [
            Observation(Source.INGEST, pending, Outcome.PENDING, at, created_at=at),
            Observation(Source.CALLBACK, failed, Outcome.FAILED, at + timedelta(microseconds=1)),
        ],
    )
    InProcess(store.engine).write(
        [Observation(Source.INGEST, pending, Outcome.PENDING, at + timedelta(seconds=1))],
    )
    with store.engine.connect() as connection:
        row = connection.execute(
            select(transactions).where(transactions.c.first_seen_at == at)
        ).one()
        data = (
            connection.execute(select(transaction_events.c.data).order_by(transaction_events.c.id))
            .scalars()
            .all()
        )
    assert row.created_at == at and row.created_at.tzinfo is not None
    assert (row.outcome, row.rc, row.final_at) == ("failed", "17", at + timedelta(microseconds=1))
    assert pending.model_dump(mode="json", exclude={"sign"}) in data
    assert sorted(entry["rc"] for entry in data) == ["17", "39", "39"]
    final = at + timedelta(microseconds=1)
    with store.engine.connect() as connection:
        # counted by when it started (created_at), not when it failed
        assert failures_by_rc(connection, at, final) == {"17": 1}
        assert failures_by_rc(connection, final) == {}
        assert aged_out(connection, final, limit=100) == ()
    fresh = TransactionData.model_validate({"ref_id": "exact-2", "status": 0, "rc": "39"})
    naive = Observation(Source.INGEST, fresh, Outcome.PENDING, datetime(2026, 11, 28))
    with pytest.raises(StoreRejected, match="naive datetime"):
        InProcess(store.engine).write([naive])


def test_fingerprints_never_change() -> None:
    """Stored fingerprints are how a retried callback is recognised; if their definition
    drifted, a retry straddling a deploy would be stored twice. These values were stored
    by earlier versions."""
    data = TransactionData.model_validate(
        {
            "ref_id": "order002",
            "status": "1",
            "rc": "00",
            "sn": "123456789",
            "price": "25000",
            "message": "SUCCESS",
            "sign": "abc",
        }
    )
    wib = timezone(timedelta(hours=7))
    plain = Observation(Source.INGEST, data, Outcome.SUCCESS, T0)
    dated = Observation(
        Source.INGEST, data, Outcome.SUCCESS, T0, datetime(2026, 11, 28, 10, tzinfo=wib)
    )
    assert plain.encoded()[1] == (
        "f07b78f475e9f1b2c06a5defd564d43effa434a124dbe29bc91aae6b3908c092"
    )
    assert dated.encoded()[1] == (
        "e234a9ee1d6dda0957196797feaf9163d4967052119cd96f3bdf384ff6d2886d"
    )


def test_concurrent_writers_lose_nothing(database_url: str, registry: Registry) -> None:
    """Eight writers, each with its own engine (as separate processes have), on shared ref_ids."""
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        engine = create_db_engine(database_url)
        store = TransactionStore(engine)
        try:
            for n in range(15):
                ref_id = f"shared-{n % 5}"
                InProcess(store.engine).write(
                    [
                        observation(
                            registry,
                            ref_id,
                            Source.INGEST,
                            n,
                            status=0,
                            rc="39",
                            tr_id=f"{worker}-{n}",
                        )
                    ],
                )
                if n == 14 and worker == 0:
                    for k in range(5):
                        InProcess(store.engine).write(
                            [
                                observation(
                                    registry,
                                    f"shared-{k}",
                                    Source.CALLBACK,
                                    99,
                                    status="1",
                                    rc="00",
                                )
                            ],
                        )
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=writer, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    engine = create_db_engine(database_url)
    store = TransactionStore(engine)
    assert count(store, transactions) == 5
    # 8 writers x 15 distinct ingests + 5 callbacks: every observation kept
    assert count(store, transaction_events) == 8 * 15 + 5
    for k in range(5):
        assert store.get(f"shared-{k}").outcome is Outcome.SUCCESS  # type: ignore[union-attr]
    engine.dispose()


WRITER_SCRIPT = """
import sys
from datetime import UTC, datetime
from bot.iak.models import TransactionData
from bot.outcomes import Line, Outcome, Source
from bot.store.db import create_db_engine
from bot.store.transactions import TransactionStore
from bot.store.states import Observation
from bot.store.writer import InProcess, StoreRejected
url, name = sys.argv[1], sys.argv[2]
store = TransactionStore(create_db_engine(url))
for n in range(40):
    data = TransactionData.model_validate(
        {"ref_id": f"proc-{n % 10}", "status": 0, "rc": "39", "tr_id": f"{name}-{n}"}
    )
    observed = Observation(Source.INGEST, data, Outcome.PENDING, datetime.now(UTC))
    InProcess(store.engine).write([observed])
"""


@pytest.mark.slow
def test_two_processes_lose_nothing(database_url: str, tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT)
    root = Path(__file__).resolve().parents[2]
    processes = [
        subprocess.Popen([sys.executable, str(script), database_url, name], cwd=root)
        for name in ("a", "b")
    ]
    assert [process.wait(120) for process in processes] == [0, 0]
    engine = create_db_engine(database_url)
    store = TransactionStore(engine)
    assert count(store, transactions) == 10
    assert count(store, transaction_events) == 80
    engine.dispose()


def test_writes_keep_using_indexes_as_a_new_postgres_table_grows(registry: Registry) -> None:
    """A bot started on an empty database runs the same statements on the same pooled
    connection for hours while the tables grow. Each batch must still find its rows by
    index, not scan the whole table with a plan made when the table was empty (under load,
    that made each batch slower by the minute)."""
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    with postgres_schema() as url:
        engine = create_db_engine(url)
        observer = create_engine(url, poolclass=NullPool)
        store = TransactionStore(engine)
        try:
            with engine.begin() as connection:
                # no ANALYZE comes along to replace a cached plan (this machine runs none at all)
                for table in ("transactions", "transaction_events"):
                    connection.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = off)"))
            # the same batch shapes, many times, while the table is nearly empty
            for n in range(12):
                InProcess(store.engine).write(
                    [observation(registry, f"warm{n}-{k}", rc="39") for k in range(3)]
                )
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO transactions (ref_id, outcome, source, started_at,"
                        " first_seen_at, changed_at, checks, announced) SELECT 'grown' || n,"
                        " 'pending', 'callback', now(), now(), now(), 0, false"
                        " FROM generate_series(1, 20000) n"
                    )
                )

            def rows_scanned() -> int:
                with engine.connect() as connection:
                    # the pool's connection reports its counters before it goes idle
                    connection.execute(text("SELECT pg_stat_force_next_flush()"))
                    connection.commit()
                with observer.connect() as connection:  # another backend reads them
                    return int(
                        connection.execute(
                            text(
                                "SELECT coalesce(sum(seq_tup_read), 0) FROM pg_stat_user_tables"
                                " WHERE schemaname = current_schema()"
                                " AND relname IN ('transactions', 'transaction_events')"
                            )
                        ).scalar_one()
                    )

            before = rows_scanned()
            for n in range(3):
                results = InProcess(store.engine).write(
                    [observation(registry, f"grown{n * 3 + k + 1}", rc="00") for k in range(3)],
                )
                assert all(result.changed for result in results)
            # three batches of three rows; a scan of the table reads 20,000 rows each time
            assert rows_scanned() - before < 1000
        finally:
            engine.dispose()
            observer.dispose()


def test_a_failed_statement_never_shows_its_values(database_url: str) -> None:
    """What a failed statement raises is logged and sent to Sentry: its SQL may be in it, the
    values it carried (a customer number, a serial) may not. (The database's own words can
    still quote a value, as Postgres' "Failing row contains" does: the logs' redaction masks
    the numbers among them.)"""
    engine = create_db_engine(database_url)
    try:
        with pytest.raises(DBAPIError) as failure, engine.begin() as connection:
            connection.execute(
                text("INSERT INTO no_such_table (ref_id, customer_id) VALUES (:ref, :customer)"),
                {"ref": "hidden-ref-1", "customer": "0817777215"},
            )
    finally:
        engine.dispose()
    said = str(failure.value)
    assert "INSERT INTO no_such_table" in said
    assert "0817777215" not in said and "hidden-ref-1" not in said
    assert "hide_parameters=True" in said


def test_lines_of_reads_which_ref_ids_are_stored_and_on_which_line(
    store: TransactionStore, registry: Registry
) -> None:
    """The message shortcut's lookup: one read for many words, most of them no ref_id."""
    InProcess(store.engine).write(
        [
            observation(registry, "ORD-77", status=0, rc="39"),
            Observation(
                Source.INGEST,
                TransactionData.model_validate({"ref_id": "bill-9", "status": 1, "rc": "00"}),
                Outcome.SUCCESS,
                T0,
                line=Line.POSTPAID,
            ),
        ]
    )
    found = store.lines_of(["cek", "ORD-77", "sama", "bill-9", "ord-77", "ORD-78"])
    assert found == {"ORD-77": Line.PREPAID, "bill-9": Line.POSTPAID}
    assert store.lines_of([]) == {}
