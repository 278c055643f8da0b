"""One way to check a transaction: `TransactionChecks` asks IAK on the transaction's line,
records the answer in the store (SQLite and Postgres) and returns one result; nothing else
in the bot asks IAK's check-status."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.checks import TransactionChecks
from bot.clock import SystemClock
from bot.outcomes import Line, Outcome, Source
from bot.store.database import Database
from bot.store.schema import transactions
from tests.support.fakes.iak import FakeIak, IakReply, bill, transaction
from tests.support.iak import ClientFactory

BOT = Path(__file__).resolve().parents[2] / "bot"


@pytest.fixture
def store(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.close()


async def test_a_prepaid_check_is_recorded_and_returns_the_history(
    make_client: ClientFactory, fake_iak: FakeIak, store: Database
) -> None:
    fake_iak.add(transaction("chk1", "success", sn="1234-5678"))
    checks = TransactionChecks(make_client(), store, SystemClock())
    checked = await checks.check("chk1")
    assert (checked.line, checked.outcome, checked.answered) == (
        Line.PREPAID,
        Outcome.SUCCESS,
        True,
    )
    assert checked.history is not None
    assert [event.source for event in checked.history.events] == [Source.STATUS_CHECK]
    stored = store.transactions.get("chk1")
    assert stored is not None and stored.outcome is Outcome.SUCCESS


async def test_a_postpaid_check_goes_to_the_postpaid_api_and_is_stored_on_that_line(
    make_client: ClientFactory, fake_iak: FakeIak, store: Database
) -> None:
    fake_iak.add_bill(bill("pay1", "success"))
    checked = await TransactionChecks(make_client(), store, SystemClock()).check(
        "pay1", Line.POSTPAID
    )
    assert (checked.line, checked.outcome) == (Line.POSTPAID, Outcome.SUCCESS)
    assert fake_iak.calls_for("pay1") == []  # never asked on the prepaid API
    with store.engine.connect() as connection:
        line = connection.execute(
            select(transactions.c.line).where(transactions.c.ref_id == "pay1")
        ).scalar_one()
    assert line == Line.POSTPAID.value


async def test_iak_down_is_an_unknown_outcome_and_nothing_is_recorded(
    make_client: ClientFactory, fake_iak: FakeIak, store: Database
) -> None:
    fake_iak.always("down1", IakReply(503, raw=b"down"))
    checked = await TransactionChecks(make_client(), store, SystemClock()).check("down1")
    assert (checked.outcome, checked.answered) == (Outcome.UNKNOWN, False)
    assert checked.history is not None and checked.history.events == ()
    assert store.transactions.get("down1") is None


async def test_without_a_store_the_check_still_answers(
    make_client: ClientFactory, fake_iak: FakeIak
) -> None:
    fake_iak.add(transaction("nostore", "failed"))
    checked = await TransactionChecks(make_client(), None, SystemClock()).check("nostore")
    assert (checked.outcome, checked.history) == (Outcome.FAILED, None)


def test_nothing_else_in_the_bot_asks_iaks_check_status() -> None:
    """No prepaid/postpaid fork outside the one use case (the client defines the calls)."""
    calls = re.compile(r"\.check_(postpaid_)?status\(")
    offenders = [
        str(path.relative_to(BOT))
        for path in sorted(BOT.rglob("*.py"))
        if path.name not in ("checks.py", "client.py") and calls.search(path.read_text())
    ]
    assert offenders == []
