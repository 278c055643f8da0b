"""Tables. Changing them needs an Alembic migration in store/migrations/versions."""

from __future__ import annotations

from datetime import UTC, datetime

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
    false,
    text,
)
from sqlalchemy.types import TypeDecorator

from bot.iak.models import MAX_LENGTH
from bot.store.search_keys import KEY_LENGTH

# An incident's key: an rc, a kind's name, or a ref_id.
INCIDENT_KEY = MAX_LENGTH["ref_id"]

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

    def process_result_value(self, value: object, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


SEARCH_KEY = String(KEY_LENGTH).with_variant(String(KEY_LENGTH, collation="C"), "postgresql")

# SQLite only auto-increments INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")

incidents = Table(
    "incidents",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # pending (aged-out transactions), spike (one rc), deposit (low balance)
    Column("kind", String(16), nullable=False),
    # what the incident is about within its kind: the rc of a spike, the ref_id of a
    # conflict; the kind otherwise
    Column("key", String(INCIDENT_KEY), nullable=False),
    Column("status", String(10), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime),
    # where its parent message is, once posted
    Column("channel", String(32)),
    Column("parent_ts", String(32)),
    # queued | held (opened under a mute, posted when it ends) | posted | failed (for good)
    Column("parent_state", String(8), nullable=False, server_default="queued"),
    # the kind's figures (a `Details` of its module in bot.incidents.kinds)
    Column("details", JSON, nullable=False),
    Column("acknowledged_by", String(32)),
    Column("acknowledged_at", UTCDateTime),
    Column("muted_until", UTCDateTime),
    Column("muted_by", String(32)),
    # the incident's running figure when it was muted: the thread says how far it went on
    Column("muted_total", BigInteger),
    # re-announced to the channel once nobody had acknowledged it in time
    Column("escalated_at", UTCDateTime),
    # the person who acknowledged it was reminded that it is still open
    Column("reminded_at", UTCDateTime),
    # one open incident per kind and key, whichever process opens it
    Index(
        "uq_incidents_open_kind_key",
        "kind",
        "key",
        unique=True,
        sqlite_where=text("status = 'open'"),
        postgresql_where=text("status = 'open'"),
    ),
    # one daily digest per WIB day (key), whichever process records it
    Index(
        "uq_incidents_digest_day",
        "key",
        unique=True,
        sqlite_where=text("kind = 'digest'"),
        postgresql_where=text("kind = 'digest'"),
    ),
)

# "Mute this rc": future incidents of a kind and key open muted until `until`.
mutes = Table(
    "mutes",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("key", String(INCIDENT_KEY), primary_key=True),
    Column("until", UTCDateTime, nullable=False),
    Column("muted_by", String(32)),
)

# Every Slack operation an incident change causes, written in the same database
# transaction as the change and delivered afterwards, in order per incident.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "incident_id", BigInteger, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
    ),
    Column("channel", String(32), nullable=False),
    # post_parent | reply | update_parent
    Column("action", String(16), nullable=False),
    # what a reply says, as data (rendered to Block Kit only when sent)
    Column("payload", JSON, nullable=False),
    # pending | sent | superseded | failed
    Column("state", String(12), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("sent_at", UTCDateTime),
    Column("last_error", String(200)),
    Index(None, "state", "id"),
    Index(None, "incident_id", "id"),
)

# Which process runs the monitor: the holder renews its lease every tick; another takes
# over once it expires.
leases = Table(
    "leases",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("last_tick_at", UTCDateTime),
)

transactions = Table(
    "transactions",
    metadata,
    Column("ref_id", String(MAX_LENGTH["ref_id"]), primary_key=True),
    Column("outcome", String(10), nullable=False),
    Column("status", SmallInteger),
    Column("rc", String(MAX_LENGTH["rc"])),
    Column("product_code", String(MAX_LENGTH["product_code"])),
    Column("customer_id", String(MAX_LENGTH["customer_id"])),
    Column("price", BigInteger),
    Column("balance", BigInteger),
    Column("tr_id", String(MAX_LENGTH["tr_id"])),
    Column("sn", String(MAX_LENGTH["sn"])),
    Column("message", String(MAX_LENGTH["message"])),
    # which source last changed the state
    Column("source", String(16), nullable=False),
    # the merchant backend's own time of the top-up, when it sent one
    Column("created_at", UTCDateTime),
    # when it happened: created_at when known, else first_seen_at (what the monitor, the
    # stats and the pending list judge it by). The default is for code from before it
    # existed (a rollback), which inserts none: such a transaction started when first seen.
    Column("started_at", UTCDateTime, nullable=False, server_default=text("CURRENT_TIMESTAMP")),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("final_at", UTCDateTime),
    # when an answer contradicted the final outcome stored, until IAK's own check settles it
    Column("conflict_at", UTCDateTime),
    # prepaid (a top-up) or postpaid (a bill): which of IAK's tables its rc is from
    Column("line", String(8), nullable=False, server_default="prepaid"),
    # a success's serial number as compared with others' (bot.store.states.serial_key): the
    # same voucher or token delivered twice; NULL unless it succeeded with a real one
    Column("serial", String(MAX_LENGTH["sn"])),
    # --- the monitor's bookkeeping (not part of the transaction's state) ---
    # when the monitor next asks IAK about it while pending; NULL before the first check
    Column("next_check_at", UTCDateTime),
    Column("checks", Integer, nullable=False, server_default="0"),
    # the monitor gave up re-checking it (pending for 24 h)
    Column("checks_stopped_at", UTCDateTime),
    # the "pending aged out" incident it joined, and whether its outcome was told there
    Column("incident_id", BigInteger, ForeignKey("incidents.id", ondelete="SET NULL")),
    Column("announced", Boolean, nullable=False, server_default=false()),
    # "pending transactions older than T", "outcomes since T", "failures per line and rc
    # since T" and "final ones per product, outcome, rc and time to final since T" (operator
    # health) (covering: no table lookups)
    # (named: the columns' names together pass Postgres's 63 characters)
    Index(
        "ix_transactions_outcome_started_at_covering",
        "outcome",
        "started_at",
        "rc",
        "line",
        "product_code",
        "final_at",
    ),
    # "pending, due for a re-check" (NULL next_check_at: never checked, due by started_at)
    Index(None, "outcome", "next_check_at", "started_at"),
    # "pending, aged out, in no incident yet"
    Index(None, "outcome", "incident_id", "started_at"),
    # "conflicting outcomes, not settled yet" (a handful at most: a partial index)
    Index(
        "ix_transactions_conflict_at",
        "conflict_at",
        sqlite_where=text("conflict_at IS NOT NULL"),
        postgresql_where=text("conflict_at IS NOT NULL"),
    ),
    Index(None, "incident_id"),
    # "the other transactions with this serial number" and "successes with a serial number
    # since T" (partial: only successes carry one)
    Index(
        "ix_transactions_serial",
        "serial",
        sqlite_where=text("serial IS NOT NULL"),
        postgresql_where=text("serial IS NOT NULL"),
    ),
    Index(
        "ix_transactions_final_at_serial",
        "final_at",
        "serial",
        sqlite_where=text("serial IS NOT NULL"),
        postgresql_where=text("serial IS NOT NULL"),
    ),
)

# What a customer quotes, turned into keys (bot.store.search_keys): `/iak find` looks a
# transaction up by its customer number in any spelling, its serial's last digits, its tr_id.
# A table of its own, not columns and indexes on `transactions`: one index serves every kind
# of key, the migration builds it on a new table (no index build on the big one), and the
# rows it fills for older transactions lock none of theirs.
transaction_keys = Table(
    "transaction_keys",
    metadata,
    # compared byte-wise on every database (SQLite's default; "C" on Postgres), so that the
    # keys starting with some digits are one range of the index
    Column("key", SEARCH_KEY, primary_key=True),
    Column(
        "ref_id",
        String(MAX_LENGTH["ref_id"]),
        ForeignKey("transactions.ref_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    # the cascade from a deleted transaction (retention) finds its keys by ref_id
    Index(None, "ref_id"),
)

transaction_events = Table(
    "transaction_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "ref_id",
        String(MAX_LENGTH["ref_id"]),
        ForeignKey("transactions.ref_id", ondelete="CASCADE"),
        nullable=False,
    ),
    # sha256 of what was observed: the same observation delivered twice is stored once
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("source", String(16), nullable=False),
    Column("observed_at", UTCDateTime, nullable=False),
    Column("outcome", String(10), nullable=False),
    Column("status", SmallInteger),
    Column("rc", String(MAX_LENGTH["rc"])),
    Column("balance", BigInteger),
    # whether this observation changed the transaction's state
    Column("applied", Boolean, nullable=False),
    Column("data", JSON, nullable=False),
    Index(None, "ref_id", "id"),
    # "since T" (balance readings); with where each answer came from and what it said,
    # callback health counts an hour of answers from the index alone
    Index(None, "observed_at", "source", "applied", "outcome", "ref_id"),
)

# How far retention (bot.store.retention) got, kept across runs and processes: one row.
retention = Table(
    "retention",
    metadata,
    Column("name", String(32), primary_key=True),
    # history rows with an id up to this one have had their customer numbers and serials
    # blanked (or were younger than that when passed: see bot.store.retention)
    Column("blanked_through", BigInteger, nullable=False, server_default="0"),
    # the last run that finished, and how many rows it deleted and blanked
    Column("last_run_at", UTCDateTime),
    Column("last_run_deleted", BigInteger),
    Column("last_run_blanked", BigInteger),
)

# IAK's price lists, shared by every process so that IAK is asked at most every few minutes:
# one row per list (prepaid, postpaid) and IAK host, with the products as IAK last gave them.
price_lists = Table(
    "price_lists",
    metadata,
    Column("line", String(8), primary_key=True),
    # the base URL asked: a sandbox list is never answered for production, nor the reverse
    Column("base_url", String(300), primary_key=True),
    # when `products` was fetched; NULL while no attempt has succeeded yet
    Column("fetched_at", UTCDateTime),
    # bot.iak.products.Product, by field name
    Column("products", JSON),
    # the last attempt, and why it failed (NULL when it succeeded)
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("error", String(300)),
)

# Callbacks refused (bad sign, address not allowed, unreadable), counted in memory by each
# process and written a burst at a time, so the monitor of any process sees them without
# one database write per refused request.
callback_refusals = Table(
    "callback_refusals",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # bad_sign (401) | not_allowed (403) | malformed (400) | too_large (413)
    Column("reason", String(16), nullable=False),
    Column("count", Integer, nullable=False),
    Column("first_at", UTCDateTime, nullable=False),
    Column("last_at", UTCDateTime, nullable=False),
    # the last caller's address, as the allowlist judged it
    Column("address", String(45)),
    # what the last refusal said was wrong
    Column("detail", String(200)),
    Index(None, "last_at"),
)
