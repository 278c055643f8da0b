"""The store's side of `/iak find`: the keys a transaction is found by are written with its
state, filled for the transactions stored before they existed, and a search is bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import inspect, text

from bot.outcomes import Source
from bot.registry import Registry
from bot.store.db import alembic_config, create_db_engine, migrate
from bot.store.transactions import TransactionStore
from tests.support.transactions import record_all, seen

AT = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def _insert_as_old_code(connection: object, ref_id: str, customer_id: str, sn: str) -> None:
    """A transaction as code from before 0013 inserts it: no keys."""
    connection.execute(  # type: ignore[attr-defined]
        text(
            "INSERT INTO transactions (ref_id, outcome, product_code, customer_id, tr_id, sn, "
            "source, started_at, first_seen_at, changed_at) VALUES (:ref_id, 'success', "
            "'pln20', :customer_id, :tr_id, :sn, 'callback', :at, :at, :at)"
        ),
        {
            "ref_id": ref_id,
            "customer_id": customer_id,
            "tr_id": f"tr-{ref_id}",
            "sn": sn,
            "at": AT.replace(tzinfo=None).isoformat(" "),
        },
    )


def test_upgrade_fills_the_keys_of_stored_transactions(empty_database: str) -> None:
    engine = create_db_engine(empty_database)
    config = alembic_config()
    with engine.connect().execution_options(write=True) as connection, connection.begin():
        config.attributes["connection"] = connection
        command.upgrade(config, "0012")
        _insert_as_old_code(connection, "old-1", "0812-3450-0001", "0123-4567-8901-2345-6789/B/R1")
        _insert_as_old_code(connection, "old-2", "+62 812 3450 0001", "0")
        _insert_as_old_code(connection, "old-3", "081299990000", "BA4B52862X7P")
    migrate(engine)  # as a release does: later migrations build indexes concurrently
    store = TransactionStore(engine)
    try:
        assert {state.ref_id for state in store.find("6281234500001").transactions} == {
            "old-1",
            "old-2",
        }
        assert [state.ref_id for state in store.find("2345-6789").transactions] == ["old-1"]
        assert [state.ref_id for state in store.find("ba4b52862x7p").transactions] == ["old-3"]
        assert [state.ref_id for state in store.find("tr-old-2").transactions] == ["old-2"]
    finally:
        engine.dispose()


def test_a_transaction_stored_by_older_code_is_found_once_it_changes(
    database_url: str, registry: Registry
) -> None:
    """During a rolling release (or after a rollback), code from before the keys stores a
    transaction without them; the writer adds them the next time it changes."""
    engine = create_db_engine(database_url)
    store = TransactionStore(engine)
    with engine.begin() as connection:
        _insert_as_old_code(connection, "rolled-1", "0817777215", "0")
        connection.execute(
            text("UPDATE transactions SET outcome = 'pending' WHERE ref_id = :r"), {"r": "rolled-1"}
        )
    assert store.find("0817777215").transactions == ()
    record_all(
        store,
        [seen(registry, "rolled-1", AT + timedelta(minutes=1), "success", source=Source.CALLBACK)],
    )
    assert [state.ref_id for state in store.find("+62 817-777-215").transactions] == ["rolled-1"]
    engine.dispose()


def test_a_serial_corrected_is_found_by_the_new_one_only(
    database_url: str, registry: Registry
) -> None:
    engine = create_db_engine(database_url)
    store = TransactionStore(engine)
    first = seen(registry, "fix-1", AT, "success", sn="11112222333344445555")
    # IAK's own check says the top-up failed after all, with another serial
    corrected = seen(
        registry,
        "fix-1",
        AT + timedelta(minutes=5),
        "failed",
        source=Source.STATUS_CHECK,
        rc="07",
        sn="99998888777766665555",
    )
    record_all(store, [first])
    assert [state.ref_id for state in store.find("33334444 5555").transactions] == ["fix-1"]
    record_all(store, [corrected])
    assert store.get("fix-1").sn == "99998888777766665555"  # type: ignore[union-attr]
    assert store.find("33334444 5555").transactions == ()
    assert [state.ref_id for state in store.find("7777-6666-5555").transactions] == ["fix-1"]
    engine.dispose()


def test_a_busy_number_shows_the_newest_and_counts_the_rest(
    database_url: str, registry: Registry
) -> None:
    engine = create_db_engine(database_url)
    store = TransactionStore(engine)
    record_all(
        store,
        [
            seen(registry, f"busy-{n:02d}", AT + timedelta(minutes=n), customer_id="081234500001")
            for n in range(25)
        ],
    )
    found = store.find("0812 3450 0001")
    assert [state.ref_id for state in found.transactions] == [
        f"busy-{n:02d}" for n in range(24, 4, -1)
    ]
    assert found.total == 25 and not found.more_than_counted
    capped = store.find("0812 3450 0001", count_up_to=21)
    assert len(capped.transactions) == 20 and capped.more_than_counted
    engine.dispose()


def test_odd_text_that_upper_cases_longer_than_the_column_is_stored_and_found(
    database_url: str, registry: Registry
) -> None:
    """`ß` upper-cases to `SS`: a 500-character serial of it makes a key past the column's
    length, which Postgres would refuse, and the callback with it."""
    engine = create_db_engine(database_url)
    store = TransactionStore(engine)
    odd = "ß" * 500
    # pending: a success's `serial` column has the same trouble of its own (not find's)
    record_all(store, [seen(registry, "odd-1", AT, sn=odd, customer_id="ß" * 100)])
    assert store.get("odd-1") is not None
    assert [state.ref_id for state in store.find("ß" * 50).transactions] == []
    assert [state.ref_id for state in store.find("odd-1").transactions] == ["odd-1"]
    engine.dispose()


def test_a_transactions_keys_are_found_by_its_ref_id_through_an_index(database_url: str) -> None:
    """Deleting a transaction (retention deletes a day of them) deletes its keys by ref_id,
    through the foreign key's cascade: without an index that starts with ref_id, each
    deleted transaction read the whole keys table (at a large reseller's size, retention's
    batches ran into the statement timeout)."""
    engine = create_db_engine(database_url)
    starts = [index["column_names"][0] for index in inspect(engine).get_indexes("transaction_keys")]
    assert "ref_id" in starts
    if engine.dialect.name == "sqlite":  # and SQLite's fixed plan takes it
        with engine.connect() as connection:
            plan = " ".join(
                str(row[-1])
                for row in connection.exec_driver_sql(
                    "EXPLAIN QUERY PLAN DELETE FROM transaction_keys WHERE ref_id = 'gone-1'"
                )
            )
        assert "SEARCH transaction_keys USING" in plan and "(ref_id=?)" in plan, plan
    engine.dispose()
