"""A transaction's state and how observations move it: state only moves forward.

Pure and light (no pydantic, no SQL): the store's writer process runs these rules on the
batches it writes, and imports nothing else of the bot.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from bot.outcomes import Line, Outcome, Source
from bot.shapes import DbRow, Json

# Characters that only group a PLN token for reading ("0123-4567 8901…"): the same token
# is the same whether IAK wrote it grouped or not.
_TOKEN_GROUPING = re.compile(r"[\s.-]")
_ALPHANUMERIC = re.compile(r"[0-9A-Za-z]")

# How much a single observation can raise what we believe; see `supersedes`.
_RANK = {Outcome.UNKNOWN: 0, Outcome.PENDING: 1, Outcome.SUCCESS: 2, Outcome.FAILED: 2}

# What IAK reports of a transaction (its `data` object, minus the sign), in the order of
# the stored history's JSON keys. bot.iak.models.TransactionData has exactly these fields.
REPORTED_FIELDS = (
    "balance",
    "customer_id",
    "message",
    "price",
    "product_code",
    "rc",
    "ref_id",
    "sn",
    "status",
    "tr_id",
)


# The reported values of a Reported, as a tuple in REPORTED_FIELDS order.
_reported = operator.attrgetter(*REPORTED_FIELDS)


class Reported(Protocol):
    """What IAK reported about one transaction (bot.iak.models.TransactionData, parsed)."""

    @property
    def ref_id(self) -> str: ...
    @property
    def status(self) -> int | None: ...
    @property
    def rc(self) -> str | None: ...
    @property
    def product_code(self) -> str | None: ...
    @property
    def customer_id(self) -> str | None: ...
    @property
    def price(self) -> int | None: ...
    @property
    def balance(self) -> int | None: ...
    @property
    def tr_id(self) -> str | None: ...
    @property
    def sn(self) -> str | None: ...
    @property
    def message(self) -> str | None: ...


class ReportedValues(NamedTuple):
    """What IAK reported, as plain values, in REPORTED_FIELDS order: a named tuple, which
    the writer process builds from the pickled tuple in one step (a frozen dataclass sets
    its fields one by one)."""

    balance: int | None
    customer_id: str | None
    message: str | None
    price: int | None
    product_code: str | None
    rc: str | None
    ref_id: str
    sn: str | None
    status: int | None
    tr_id: str | None


@dataclass(frozen=True)
class Observation:
    """One thing we heard about a transaction: a callback, an ingest, or a status check."""

    source: Source
    data: Reported
    outcome: Outcome
    observed_at: datetime
    created_at: datetime | None = None
    # which of IAK's APIs it came from: its rc is from that line's table
    line: Line = Line.PREPAID

    @property
    def ref_id(self) -> str:
        """The transaction's ref_id."""
        return self.data.ref_id

    def payload(self) -> Json:
        """What was observed, as stored in the history (never the sign)."""
        data = self.data
        # The values are text, whole numbers or None: as they are in JSON.
        payload: Json = {name: getattr(data, name) for name in REPORTED_FIELDS}
        if self.line is not Line.PREPAID:
            # only when postpaid, so a prepaid observation's fingerprint stays as it was
            payload["line"] = self.line.value
        return payload

    def encoded(self) -> tuple[str, str]:
        """The payload as stored (canonical JSON) and the observation's fingerprint.

        Identical observations (a retried callback) share a fingerprint and are stored once.
        The fingerprint is sha256 of the canonical JSON of [source, payload, created_at]; it
        must never change, or retries that straddle a deploy would be stored twice. The
        list is spelled out around the payload's JSON so the payload is encoded only once.
        """
        payload = json.dumps(self.payload(), sort_keys=True, separators=(",", ":"), default=str)
        # An ISO time and a source name hold nothing JSON escapes: quoted as they are.
        created = f'"{self.created_at.isoformat()}"' if self.created_at else "null"
        canonical = f'["{self.source.value}",{payload},{created}]'
        return payload, hashlib.sha256(canonical.encode()).hexdigest()

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as plain values (how batches reach the writer process): the reported
        values as a tuple, each enum as its value. Read back as ReportedValues, since the
        writer process loads neither pydantic nor IAK's models; and a tuple of plain values
        is a fraction of the work of a dataclass's, on the web process's side too."""
        return _observation, (
            self.source.value,
            _reported(self.data),
            self.outcome.value,
            self.observed_at,
            self.created_at,
            self.line.value,
        )


def _observation(
    source: str,
    reported: tuple[Any, ...],
    outcome: str,
    observed_at: datetime,
    created_at: datetime | None,
    line: str,
) -> Observation:
    """An Observation from its pickled values (see Observation.__reduce__)."""
    values = ReportedValues._make(reported)
    return Observation(
        Source(source), values, Outcome(outcome), observed_at, created_at, Line(line)
    )


@dataclass(frozen=True)
class TransactionState:
    """What we currently believe about one transaction."""

    ref_id: str
    outcome: Outcome
    status: int | None
    rc: str | None
    product_code: str | None
    customer_id: str | None
    price: int | None
    balance: int | None
    tr_id: str | None
    sn: str | None
    message: str | None
    source: Source
    # the merchant backend's own time of the top-up, when it sent one
    created_at: datetime | None
    # when the transaction happened, which is the time the monitor, /iak stats and
    # /iak pending judge it by: its created_at when known, else when the bot first heard
    started_at: datetime
    first_seen_at: datetime
    changed_at: datetime
    final_at: datetime | None
    # an answer contradicted the final outcome (success against failed) at this time; IAK's
    # own check settles it
    conflict_at: datetime | None = None
    # prepaid top-up or postpaid bill, as first heard: which table its rc is from
    line: Line = Line.PREPAID
    # the serial number a success delivered, as compared with other transactions' (see
    # `serial_key`); None unless it succeeded with a real serial number
    serial: str | None = None

    @classmethod
    def from_row(cls, row: DbRow) -> TransactionState:
        """Build from a `transactions` row."""
        values = {name: getattr(row, name) for name in STATE_FIELDS}
        values["outcome"] = Outcome(values["outcome"])
        values["source"] = Source(values["source"])
        values["line"] = Line(values["line"])
        return cls(**values)


STATE_FIELDS = tuple(field.name for field in fields(TransactionState))


class Recorded(NamedTuple):
    """What recording an observation did: the transaction's outcome as now stored (None when
    nothing could be stored of it), whether that write changed its state, and whether the
    same observation had been stored before. A named tuple: the writer process sends one
    back for every callback, and a tuple is the cheapest thing to pickle."""

    outcome: Outcome | None
    changed: bool
    duplicate: bool


def contradicts(current: TransactionState, observation: Observation) -> bool:
    """A final outcome other than the final one stored (success against failed)."""
    new, old = observation.outcome, current.outcome
    return old.is_final and new.is_final and new != old


def supersedes(current: TransactionState, observation: Observation) -> bool:
    """Whether an observation replaces the current state (state only moves forward).

    A final outcome is never replaced by pending or unknown, whatever order things arrive
    in. Only a live status check may correct one final outcome with the other: a callback
    could be a late retry of something older (or forged: its sign proves the ref_id, not
    the outcome), but a check is IAK's answer right now.
    """
    new, old = observation.outcome, current.outcome
    if old.is_final:
        return new.is_final and new != old and observation.source is Source.STATUS_CHECK
    if _RANK[new] != _RANK[old]:
        return _RANK[new] > _RANK[old]
    # same rank, not final: a newer pending reason (39 → 201) is worth keeping
    return new is Outcome.PENDING and observation.data.rc not in (None, current.rc)


# transactions.serial's length (schema.py; the route takes an sn of at most as many).
SERIAL_KEY_LENGTH = 500


def serial_key(sn: str | None, product_code: str | None) -> str | None:
    """The serial number as two deliveries of the same voucher or token would share it; None
    for none at all or a placeholder (`-`, `0`, all zeros).

    A PLN `sn` is `token/customer name/segment power`: only the token is the thing sold.
    """
    if not sn:
        return None
    key = sn
    if product_code is not None and product_code.strip().lower().startswith("pln"):
        key = _TOKEN_GROUPING.sub("", sn.split("/", 1)[0])
    key = " ".join(key.split()).upper()
    if not _ALPHANUMERIC.search(key) or not key.strip("0 -./"):
        return None
    # Upper-casing can lengthen text (`ß` is `SS`): the key keeps to its column.
    return key[:SERIAL_KEY_LENGTH]


def merge(current: TransactionState | None, observation: Observation) -> TransactionState | None:
    """The state after an observation; None when it says nothing worth a transaction row."""
    after = _merge(current, observation)
    if after is None or current is None:
        # (a new state is built with its serial)
        return after
    serial = _serial(after.outcome, after.line, after.sn, after.product_code)
    return after if after.serial == serial else replace(after, serial=serial)


def _serial(outcome: Outcome, line: Line, sn: str | None, product_code: str | None) -> str | None:
    """The serial of a state with these values. A voucher or token delivered twice is a
    prepaid matter: a bill's `sn` is the biller's payment reference."""
    delivered = outcome is Outcome.SUCCESS and line is Line.PREPAID
    return serial_key(sn, product_code) if delivered else None


def _merge(current: TransactionState | None, observation: Observation) -> TransactionState | None:
    data = observation.data
    at = observation.observed_at
    if current is None:
        if observation.outcome is Outcome.UNKNOWN and observation.source is Source.STATUS_CHECK:
            # a failed or refused check of a ref_id we never saw: nothing to store
            return None
        return TransactionState(
            ref_id=data.ref_id,
            outcome=observation.outcome,
            status=data.status,
            rc=data.rc,
            product_code=data.product_code,
            customer_id=data.customer_id,
            price=data.price,
            balance=data.balance,
            tr_id=data.tr_id,
            sn=data.sn,
            message=data.message,
            source=observation.source,
            created_at=observation.created_at,
            started_at=observation.created_at or at,
            first_seen_at=at,
            changed_at=at,
            final_at=at if observation.outcome.is_final else None,
            line=observation.line,
            serial=_serial(observation.outcome, observation.line, data.sn, data.product_code),
        )
    if observation.line is not current.line:
        # A ref_id first heard on one line and now on the other: one of the two is a
        # mistake, and an rc read against the wrong table would mislead. Kept in the
        # history only; the transaction stays as first heard.
        return current
    filled = replace(
        current,
        product_code=current.product_code or data.product_code,
        customer_id=current.customer_id or data.customer_id,
        price=current.price if current.price is not None else data.price,
        balance=current.balance if current.balance is not None else data.balance,
        tr_id=current.tr_id or data.tr_id,
        sn=current.sn or data.sn,
        created_at=current.created_at or observation.created_at,
        started_at=current.started_at
        if current.created_at or not observation.created_at
        else observation.created_at,
    )
    if observation.source is Source.STATUS_CHECK:
        if observation.outcome.is_final:
            # IAK's own answer settles a conflict, confirming or correcting the outcome.
            filled = replace(filled, conflict_at=None)
    elif contradicts(current, observation):
        # Kept as it is, but marked: the monitor asks IAK and tells the ops channel.
        filled = replace(filled, conflict_at=current.conflict_at or at)
    if not supersedes(current, observation):
        return filled
    return replace(
        filled,
        outcome=observation.outcome,
        status=data.status if data.status is not None else current.status,
        rc=data.rc or current.rc,
        balance=data.balance if data.balance is not None else current.balance,
        sn=data.sn or current.sn,
        message=data.message or current.message,
        source=observation.source,
        changed_at=at,
        final_at=at if observation.outcome.is_final else None,
    )
