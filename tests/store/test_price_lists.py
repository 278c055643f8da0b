"""The price lists' cache on SQLite and Postgres: what is kept, per list and IAK host."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.iak.products import parse_price_list
from bot.registry import Line
from bot.store.db import create_db_engine
from bot.store.price_lists import PriceListRepository, StoredAttempts
from tests.support.fakes.iak import POSTPAID_PRODUCTS, PREPAID_PRODUCTS

SANDBOX = "https://prepaid.iak.dev"
PRODUCTION = "https://prepaid.iak.id"
AT = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


@pytest.fixture
def repository(database_url: str) -> Iterator[PriceListRepository]:
    engine = create_db_engine(database_url)
    yield PriceListRepository(engine)
    engine.dispose()


def test_a_list_is_replaced_and_a_failure_keeps_it(repository: PriceListRepository) -> None:
    prepaid = parse_price_list(Line.PREPAID, {"pricelist": PREPAID_PRODUCTS})
    assert prepaid is not None
    assert repository.attempts(Line.PREPAID, SANDBOX) is None
    assert repository.products(Line.PREPAID, SANDBOX) is None

    repository.save(Line.PREPAID, SANDBOX, prepaid, AT)
    assert repository.attempts(Line.PREPAID, SANDBOX) == StoredAttempts(AT, AT, None)
    assert repository.products(Line.PREPAID, SANDBOX) == (AT, prepaid)

    later = AT + timedelta(minutes=11)
    repository.save_failure(Line.PREPAID, SANDBOX, "could not reach IAK " + "x" * 400, later)
    attempts = repository.attempts(Line.PREPAID, SANDBOX)
    assert attempts is not None
    assert (attempts.fetched_at, attempts.attempted_at) == (AT, later)
    assert attempts.error is not None and len(attempts.error) == 300
    assert repository.products(Line.PREPAID, SANDBOX) == (AT, prepaid)

    fewer = prepaid[:2]
    repository.save(Line.PREPAID, SANDBOX, fewer, later)
    assert repository.attempts(Line.PREPAID, SANDBOX) == StoredAttempts(later, later, None)
    assert repository.products(Line.PREPAID, SANDBOX) == (later, fewer)


def test_lists_are_kept_apart_by_line_and_host(repository: PriceListRepository) -> None:
    prepaid = parse_price_list(Line.PREPAID, {"pricelist": PREPAID_PRODUCTS})
    postpaid = parse_price_list(Line.POSTPAID, {"pasca": POSTPAID_PRODUCTS})
    assert prepaid is not None and postpaid is not None
    repository.save(Line.PREPAID, SANDBOX, prepaid, AT)
    repository.save(Line.POSTPAID, SANDBOX, postpaid, AT)
    repository.save_failure(Line.PREPAID, PRODUCTION, "IAK refused the request (rc 102)", AT)
    assert repository.products(Line.POSTPAID, SANDBOX) == (AT, postpaid)
    # Production has no copy: the sandbox's is never answered for it.
    assert repository.products(Line.PREPAID, PRODUCTION) is None
    assert repository.attempts(Line.PREPAID, PRODUCTION) == StoredAttempts(
        None, AT, "IAK refused the request (rc 102)"
    )
