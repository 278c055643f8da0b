"""Schema 0008 gives the successes stored before it their serial number as compared, so
a token delivered before the upgrade and again after it is still found twice."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from bot.store.db import alembic_config, create_db_engine


def test_upgrade_fills_the_serial_of_stored_successes(empty_database: str) -> None:
    engine = create_db_engine(empty_database)
    config = alembic_config()
    at = "2026-11-28 03:00:00"
    with engine.connect().execution_options(write=True) as connection, connection.begin():
        config.attributes["connection"] = connection
        command.upgrade(config, "0009")
        for ref_id, outcome, product, sn in (
            ("pln1", "success", "pln20000", "0123-4567-8901-2345-6789/BUDI/R1/900"),
            ("v1", "success", "voucher100", "BA4B52862X7P"),
            ("blank", "success", "xld25000", "0"),
            ("failed", "failed", "pln20000", "01234567890123456789/SITI/R1/900"),
        ):
            connection.execute(
                text(
                    "INSERT INTO transactions (ref_id, outcome, product_code, sn, source, "
                    "started_at, first_seen_at, changed_at) "
                    "VALUES (:ref_id, :outcome, :product, :sn, 'callback', :at, :at, :at)"
                ),
                {"ref_id": ref_id, "outcome": outcome, "product": product, "sn": sn, "at": at},
            )
        command.upgrade(config, "0010")
        serials = {
            row.ref_id: row.serial
            for row in connection.execute(text("SELECT ref_id, serial FROM transactions"))
        }
    engine.dispose()
    assert serials == {
        "pln1": "01234567890123456789",
        "v1": "BA4B52862X7P",
        "blank": None,
        "failed": None,
    }
