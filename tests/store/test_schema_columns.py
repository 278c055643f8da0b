"""The batch writer's raw SQL names its columns itself (the writer process loads no
SQLAlchemy): its lists must be the schema's, or a new column is silently never written."""

from __future__ import annotations

from bot.store.batch import EVENT_COLUMNS, KEY_COLUMNS
from bot.store.schema import transaction_events, transaction_keys, transactions
from bot.store.states import SERIAL_KEY_LENGTH, STATE_FIELDS


def test_the_batch_writers_columns_are_the_schemas() -> None:
    stored = {column.name for column in transactions.columns}
    required = {
        column.name
        for column in transactions.columns
        if not column.nullable and column.server_default is None
    }
    assert set(STATE_FIELDS) - stored == set(), "written but not in the schema"
    assert required - set(STATE_FIELDS) == set(), "required by the schema but never written"
    history = {column.name for column in transaction_events.columns} - {"id"}
    assert set(EVENT_COLUMNS) == history
    assert set(KEY_COLUMNS) == {column.name for column in transaction_keys.columns}


def test_the_serial_key_fits_its_column() -> None:
    assert transactions.c.serial.type.length == SERIAL_KEY_LENGTH
