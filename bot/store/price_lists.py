"""The price lists' repository: every statement about the `price_lists` table.

Synchronous, like the rest of the store: callers on the event loop run it in a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.iak.products import Product
from bot.registry import Line
from bot.shapes import DbRow, Json
from bot.store.schema import price_lists

log = logging.getLogger(__name__)

MAX_ERROR = 300


@dataclass(frozen=True)
class StoredAttempts:
    """When one list was last fetched, and how the last attempt went (without the products)."""

    fetched_at: datetime | None
    attempted_at: datetime
    # why the last attempt failed; None when it succeeded
    error: str | None


class PriceListRepository:
    """Reads and replaces the cached price lists, one row per list and IAK host."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def attempts(self, line: Line, base_url: str) -> StoredAttempts | None:
        """How the list stands, without reading its products; None if never asked for."""
        query = select(
            price_lists.c.fetched_at, price_lists.c.attempted_at, price_lists.c.error
        ).where(price_lists.c.line == line.value, price_lists.c.base_url == base_url)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        return StoredAttempts(row.fetched_at, row.attempted_at, row.error)

    def products(self, line: Line, base_url: str) -> tuple[datetime, tuple[Product, ...]] | None:
        """The cached products and when they were fetched; None while there are none."""
        query = select(price_lists.c.fetched_at, price_lists.c.products).where(
            price_lists.c.line == line.value, price_lists.c.base_url == base_url
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None or row.fetched_at is None or not isinstance(row.products, list):
            return None
        return row.fetched_at, tuple(_products(line, row.products))

    def save(self, line: Line, base_url: str, products: tuple[Product, ...], at: datetime) -> None:
        """Replace the list with what IAK just gave."""
        rows = [product.model_dump(mode="json", exclude={"line"}) for product in products]
        with self._writing() as connection:
            _upsert(
                connection,
                {"line": line.value, "base_url": base_url},
                {"fetched_at": at, "products": rows, "attempted_at": at, "error": None},
            )

    def save_failure(self, line: Line, base_url: str, error: str, at: datetime) -> None:
        """Record a failed attempt; the products fetched before stay as they were."""
        with self._writing() as connection:
            _upsert(
                connection,
                {"line": line.value, "base_url": base_url},
                {"attempted_at": at, "error": error[:MAX_ERROR]},
            )

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """One write transaction (SQLite takes its write lock up front)."""
        with self.engine.connect().execution_options(write=True) as connection, connection.begin():
            yield connection


def _upsert(connection: Connection, key: Json, values: Json) -> None:
    """Insert the row, or update it where another process (or an earlier fetch) made it."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(price_lists).values(**key, **values)
    connection.execute(statement.on_conflict_do_update(index_elements=list(key), set_=values))


def _products(line: Line, rows: list[DbRow]) -> Iterator[Product]:
    for row in rows:
        try:
            yield Product.model_validate({**row, "line": line})
        except (ValidationError, TypeError):
            # Written by another version of the bot: skip what this one cannot read.
            log.warning("skipping an unreadable cached %s product", line.value)
