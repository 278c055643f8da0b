"""Releases that can roll back: a release's code runs on the next release's schema.

The schema only grows (nullable or defaulted columns, tables, indexes), `migrate` on a
database ahead of the code changes nothing and says so, `serve` starts on it, and a
migration gives up on a busy table instead of queueing every callback behind it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.operations import Operations
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect, select, text

from bot.store.db import (
    _MIGRATION_LOCK,
    Migration,
    MigrationLockTimeout,
    alembic_config,
    create_db_engine,
    current_revision,
    head_revision,
    migrate,
)
from bot.store.online_ddl import create_index_concurrently, drop_index_concurrently
from bot.store.schema import transactions
from tests.support.bot import SIGNING_SECRET
from tests.support.cli import clean_env, free_port, iak_bot
from tests.support.fakes.slack import FakeSlack
from tests.support.intake import INGEST_TOKEN, topup_answer
from tests.support.processes import serving

# scenario tests: the bot runs whole, over loopback or as processes
pytestmark = pytest.mark.slow

# A revision no release of this code knows: the next release's.
FUTURE = "0999"
# The revision before the last migration that alters `transactions` (0012).
ALTERS_TRANSACTIONS_AFTER = "0011"

Columns = dict[str, dict[str, dict[str, Any]]]


def _upgrade(engine: Engine, revision: str) -> None:
    """Up to `revision` as a release's `migrate` goes: on Postgres a transaction per
    migration, none around them (an index is built CONCURRENTLY outside any)."""
    migrate(engine, to=revision)


def _columns(engine: Engine) -> Columns:
    found = inspect(engine)
    return {
        table: {column["name"]: column for column in found.get_columns(table)}
        for table in found.get_table_names()
        if table != "alembic_version"
    }


def _revisions() -> list[str]:
    """Every migration, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def test_code_of_any_earlier_release_never_misses_a_column_it_does_not_know(
    empty_database: str,
) -> None:
    """What code of revision R inserts names only R's columns: every column added after R
    must take a value of its own (nullable, or with a server default)."""
    engine = create_db_engine(empty_database)
    seen: dict[str, Columns] = {}
    for revision in _revisions():
        _upgrade(engine, revision)
        seen[revision] = _columns(engine)
    newest = seen[head_revision()]
    missing = [
        f"{table}.{name} (unknown before {revision})"
        for revision, earlier in seen.items()
        for table, columns in newest.items()
        if table in earlier
        for name, column in columns.items()
        if name not in earlier[table]
        and not column["nullable"]
        and column.get("default") is None
        and column.get("autoincrement") is not True
    ]
    engine.dispose()
    assert sorted(set(missing)) == []


def test_code_from_before_0007_inserts_a_transaction_into_the_newest_schema(
    database_url: str,
) -> None:
    """The insert code from before started_at existed ran, with only its own columns."""
    engine = create_db_engine(database_url)
    at = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    before = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            transactions.insert().values(
                ref_id="old-code-1",
                outcome="pending",
                status=0,
                rc="39",
                product_code="xld25000",
                customer_id="0817777215",
                source="ingest",
                first_seen_at=at,
                changed_at=at,
            )
        )
    with engine.connect() as connection:
        row = connection.execute(
            select(transactions.c.started_at, transactions.c.line).where(
                transactions.c.ref_id == "old-code-1"
            )
        ).one()
    engine.dispose()
    # It started when it was inserted, which is when that code first saw it.
    assert before.replace(microsecond=0) <= row.started_at <= datetime.now(UTC)
    assert row.line == "prepaid"


def _stamp_future(url: str) -> None:
    """What the next release's `migrate` leaves: a new column, and its revision."""
    engine = create_db_engine(url)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE transactions ADD COLUMN next_release_note TEXT"))
        connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": FUTURE})
    engine.dispose()


def test_a_rolled_back_release_migrates_nothing_and_serves_on_the_newer_schema(
    database_url: str, tmp_path: Path
) -> None:
    _stamp_future(database_url)
    env = clean_env(DATABASE_URL=database_url)
    migrated = iak_bot("migrate", cwd=tmp_path, env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert FUTURE in migrated.stdout and "newer" in migrated.stdout
    assert "Traceback" not in migrated.stderr
    engine = create_db_engine(database_url)
    assert current_revision(engine) == FUTURE
    engine.dispose()

    with FakeSlack() as fake:
        port = free_port()
        env.update(
            PORT=str(port),
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.api_url,
            MONITOR_ENABLED="false",
            INGEST_TOKEN=INGEST_TOKEN,
        )
        with serving(env, tmp_path) as served:
            url, log_path = served.url, served.log
            stored = httpx.post(
                url + "/transactions",
                json=topup_answer("after-rollback"),
                headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
                timeout=10,
            )
    assert stored.status_code == 200, log_path.read_text()
    assert "newer than this release" in log_path.read_text()
    engine = create_db_engine(database_url)
    with engine.connect() as connection:
        outcome = connection.scalar(
            select(transactions.c.outcome).where(transactions.c.ref_id == "after-rollback")
        )
    engine.dispose()
    assert outcome == "pending"


@pytest.fixture
def postgres_only(empty_database: str) -> str:
    if not empty_database.startswith("postgresql"):
        pytest.skip("lock timeouts and concurrent index builds are Postgres's")
    return empty_database


def test_a_migration_gives_up_on_a_busy_table_instead_of_queueing_writes_behind_it(
    postgres_only: str,
) -> None:
    engine = create_db_engine(postgres_only)
    # A long report holds a read lock on transactions; 0012, the last migration to alter
    # it, waits for the lock (the newer ones only add tables beside it).
    _upgrade(engine, ALTERS_TRANSACTIONS_AFTER)
    reader = engine.connect()
    reader.execute(text("LOCK TABLE transactions IN ACCESS SHARE MODE"))
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            migrate(engine, lock_timeout=0.3)
            outcome.append(None)
        except BaseException as exc:  # handed to the test's thread
            outcome.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    waited = time.monotonic() - started
    reader.rollback()
    reader.close()
    thread.join(10)
    assert waited < 5
    assert len(outcome) == 1 and isinstance(outcome[0], MigrationLockTimeout)
    assert current_revision(engine) == ALTERS_TRANSACTIONS_AFTER
    # Once the table is free, the same migration goes through.
    migrate(engine, lock_timeout=0.3)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_the_find_keys_migration_goes_through_while_a_report_reads_transactions(
    postgres_only: str,
) -> None:
    """0013 adds a table beside `transactions` and fills it by reading: a long read of
    transactions does not hold it up, and it leaves transactions' rows unlocked."""
    engine = create_db_engine(postgres_only)
    keys = ScriptDirectory.from_config(alembic_config()).get_revision("0013")
    assert keys is not None and isinstance(keys.down_revision, str)
    _upgrade(engine, keys.down_revision)
    reader = engine.connect()
    reader.execute(text("LOCK TABLE transactions IN ACCESS SHARE MODE"))
    try:
        # to 0013 alone: a later one (0015) builds an index on transactions, which waits
        migrate(engine, lock_timeout=0.3, to=keys.revision)
    finally:
        reader.rollback()
        reader.close()
    assert current_revision(engine) == keys.revision
    engine.dispose()


def test_indexes_on_large_tables_are_built_without_blocking_writes(postgres_only: str) -> None:
    engine = create_db_engine(postgres_only)
    migrate(engine)
    statements: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda *args: statements.append(str(args[2]).strip().upper()),
    )
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        connection.commit()
        with Operations.context(context):
            create_index_concurrently("ix_transactions_tr_id", "transactions", ["tr_id"])
            # Running it again (a migration retried after a failure) is harmless.
            create_index_concurrently("ix_transactions_tr_id", "transactions", ["tr_id"])
    built = [s for s in statements if s.startswith("CREATE INDEX")]
    assert built == ["CREATE INDEX CONCURRENTLY IX_TRANSACTIONS_TR_ID ON TRANSACTIONS (TR_ID)"]
    with engine.connect() as connection:
        valid = connection.scalar(
            text(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = 'ix_transactions_tr_id'"
            )
        )
        assert valid is True
        context = MigrationContext.configure(connection)
        connection.commit()
        with Operations.context(context):
            drop_index_concurrently("ix_transactions_tr_id", "transactions")
    assert any(s.startswith("DROP INDEX CONCURRENTLY") for s in statements)
    assert "ix_transactions_tr_id" not in {
        index["name"] for index in inspect(engine).get_indexes("transactions")
    }
    engine.dispose()


def test_a_concurrent_index_change_gives_up_on_a_busy_table_too(postgres_only: str) -> None:
    """Outside a transaction SET LOCAL does not reach: the migration's lock timeout is the
    session's for the statement, and the session's own is back after it."""
    engine = create_db_engine(postgres_only)
    migrate(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        connection.commit()
        with Operations.context(context):
            create_index_concurrently("ix_transactions_tr_id", "transactions", ["tr_id"])
    # A long report reads the table; dropping an index waits for every reader of it.
    reader = engine.connect()
    reader.execute(text("LOCK TABLE transactions IN ACCESS SHARE MODE"))
    config = alembic_config()
    config.attributes["lock_timeout_ms"] = 300
    environment = EnvironmentContext(config, ScriptDirectory.from_config(config))
    started = time.monotonic()
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, environment_context=environment)
            connection.commit()
            with Operations.context(context), pytest.raises(Exception, match="lock timeout"):
                drop_index_concurrently("ix_transactions_tr_id", "transactions")
            waited = time.monotonic() - started
            connection.rollback()
            assert connection.scalar(text("SHOW lock_timeout")) == "0"
    finally:
        reader.rollback()
        reader.close()
    assert waited < 5
    # Once the table is free, the same step goes through.
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, environment_context=environment)
        connection.commit()
        with Operations.context(context):
            drop_index_concurrently("ix_transactions_tr_id", "transactions")
    assert "ix_transactions_tr_id" not in {
        index["name"] for index in inspect(engine).get_indexes("transactions")
    }
    engine.dispose()


def test_a_migrate_waiting_for_another_holds_back_no_concurrent_index_build(
    postgres_only: str,
) -> None:
    """While one release phase holds the migration lock and builds an index CONCURRENTLY, a
    second `migrate` waits for the lock without a snapshot the build would wait for (a
    deadlock, when it waited inside one statement)."""
    engine = create_db_engine(postgres_only)
    migrate(engine)
    # It asks for the lock every 0.1 s, each time in a statement of its own. (Sampling
    # pg_stat_activity misses it: between two asks its last statement is the COMMIT.)
    asked = threading.Event()

    @event.listens_for(engine, "before_cursor_execute")
    def asking(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "pg_try_advisory_lock" in statement:
            asked.set()

    first = create_engine(engine.url, isolation_level="AUTOCOMMIT")
    done: list[Migration] = []
    second = threading.Thread(target=lambda: done.append(migrate(engine)))
    try:
        with first.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
            second.start()
            assert asked.wait(10), "the second migrate never asked for the lock"
            asked.clear()
            assert asked.wait(10), "the second migrate asked only once"
            started = time.monotonic()
            connection.execute(
                text("CREATE INDEX CONCURRENTLY ix_transactions_tr_id ON transactions (tr_id)")
            )
            built = time.monotonic() - started
            assert done == []  # still waiting for the lock
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
    finally:
        # the lock ends with `first`'s connection at the latest: the thread never outlives us
        first.dispose()
        if second.ident is not None:  # started
            second.join(10)
        engine.dispose()
    assert built < 5
    assert done == [Migration(head_revision(), head_revision())]


def test_an_index_build_interrupted_on_postgres_is_rebuilt(postgres_only: str) -> None:
    """A concurrent build that failed leaves an invalid index; a retry replaces it."""
    engine = create_db_engine(postgres_only)
    migrate(engine)
    admin = create_engine(engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text(
                "INSERT INTO price_lists (line, base_url, attempted_at) VALUES "
                "('prepaid', 'a', now()), ('postpaid', 'a', now())"
            )
        )
        with pytest.raises(Exception, match="could not create unique index"):
            connection.execute(
                text("CREATE UNIQUE INDEX CONCURRENTLY ix_price_lists_x ON price_lists (base_url)")
            )
        connection.execute(text("DELETE FROM price_lists WHERE line = 'postpaid'"))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        connection.commit()
        with Operations.context(context):
            create_index_concurrently("ix_price_lists_x", "price_lists", ["base_url"], unique=True)
        valid = connection.scalar(
            text(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = 'ix_price_lists_x'"
            )
        )
    admin.dispose()
    engine.dispose()
    assert valid is True
