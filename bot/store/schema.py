"""Tables. Changing them needs an Alembic migration in store/migrations/versions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on every database (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only auto-increments INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")

transactions = Table(
    "transactions",
    metadata,
    Column("ref_id", String(100), primary_key=True),
    Column("outcome", String(10), nullable=False),
    Column("status", SmallInteger),
    Column("rc", String(16)),
    Column("product_code", String(100)),
    Column("customer_id", String(100)),
    Column("price", BigInteger),
    Column("balance", BigInteger),
    Column("tr_id", String(100)),
    Column("sn", String(500)),
    Column("message", String(500)),
    # which source last changed the state
    Column("source", String(16), nullable=False),
    # the merchant backend's own time of the top-up, when it sent one
    Column("created_at", UTCDateTime),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("final_at", UTCDateTime),
    # "pending transactions older than T"
    Index(None, "outcome", "first_seen_at"),
    # "failures per rc since T" (covering: no table lookups)
    Index(None, "outcome", "final_at", "rc"),
)

transaction_events = Table(
    "transaction_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "ref_id",
        String(100),
        ForeignKey("transactions.ref_id", ondelete="CASCADE"),
        nullable=False,
    ),
    # sha256 of what was observed: the same observation delivered twice is stored once
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("source", String(16), nullable=False),
    Column("observed_at", UTCDateTime, nullable=False),
    Column("outcome", String(10), nullable=False),
    Column("status", SmallInteger),
    Column("rc", String(16)),
    Column("balance", BigInteger),
    # whether this observation changed the transaction's state
    Column("applied", Boolean, nullable=False),
    Column("data", JSON, nullable=False),
    Index(None, "ref_id", "id"),
    Index(None, "observed_at"),
)
