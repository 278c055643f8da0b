"""`iak-bot find` in the terminal: what `/iak find` shows, read straight from the database,
as a real process with a clean environment, on SQLite and Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.outcomes import Source
from bot.registry import Registry
from bot.store.db import create_db_engine
from bot.store.transactions import TransactionStore
from tests.support.cli import clean_env, iak_bot
from tests.support.transactions import record_all, seen


def test_find_prints_the_matches_newest_first_masked(
    database_url: str, tmp_path: Path, registry: Registry
) -> None:
    engine = create_db_engine(database_url)
    at = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    record_all(
        TransactionStore(engine),
        [
            seen(registry, "term-1", at, customer_id="0812-3450-0001"),
            seen(registry, "term-2", at + timedelta(hours=1), customer_id="6281234500001"),
            seen(
                registry,
                "term-3",
                at + timedelta(hours=2),
                "success",
                source=Source.CALLBACK,
                customer_id="+62 812 3450 0001",
                product_code="pln20",
                sn="5566-7788-9900-1122-3344/BUDI/R1/900",
            ),
            seen(registry, "term-other", at, customer_id="081299990000"),
        ],
    )
    engine.dispose()
    env = clean_env(DATABASE_URL=database_url, BOT_LANGUAGE="en")

    # the words of a number typed with spaces are one number (every spelling finding the
    # same transactions is tested through /iak find and the store)
    found = iak_bot("find", "+62", "812", "3450", "0001", cwd=tmp_path, env=env)
    assert found.returncode == 0, found.stderr
    out = found.stdout
    assert out.index("term-3") < out.index("term-2") < out.index("term-1")
    assert "term-other" not in out
    assert "3 transactions found, newest first." in out
    assert "10:00 WIB" in out  # 03:00 UTC
    assert "0812-3450-0001" not in out and "81234500001" not in out.replace("-", "")
    assert "[Check at IAK]" not in out  # no button to press in a terminal

    by_token = iak_bot("find", "00112233 44", cwd=tmp_path, env=env)
    assert by_token.returncode == 0 and "term-3" in by_token.stdout
    assert "term-1" not in by_token.stdout

    nothing = iak_bot("find", "0899-0000-1111", cwd=tmp_path, env=env)
    assert nothing.returncode == 1
    assert "No stored transaction matches" in nothing.stdout
    assert "0899-0000-1111" not in nothing.stdout

    indonesian = clean_env(DATABASE_URL=database_url, BOT_LANGUAGE="id")
    translated = iak_bot("find", "081234500001", cwd=tmp_path, env=indonesian)
    assert "3 transaksi ditemukan, yang terbaru dulu." in translated.stdout
    assert "prabayar" in translated.stdout

    too_long = iak_bot("find", "9" * 101, cwd=tmp_path, env=env)
    assert too_long.returncode == 2 and "too long" in too_long.stderr
