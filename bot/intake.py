"""How transactions arrive: IAK's callbacks and the merchant backend's forwarded answers.

Pure of HTTP: routes hand over the raw body and headers, and get back either what was
stored or an IntakeError carrying the status code and a message that says what is wrong.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, Field, ValidationError, WithJsonSchema

from bot.clock import WIB, Clock
from bot.config import IAK_CALLBACK_IPS, Settings
from bot.iak.models import PostpaidBill, TransactionData, valid_ref_id
from bot.iak.signing import verify
from bot.outcomes import Line, Outcome, Refusal, Source
from bot.registry import Registry
from bot.shapes import Json
from bot.store.callbacks import CallbackRefusals
from bot.store.database import Database
from bot.store.states import Observation
from bot.store.writer import StoreRejected, StoreUnavailable

MAX_BODY = 64 * 1024
# A backend's clock may run a little ahead of ours; a created_at further ahead is a mistake.
CLOCK_SKEW = timedelta(minutes=5)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# IAK's postpaid `datetime` is Western Indonesia Time, which has no daylight saving.
# Fields only IAK's postpaid answers carry: a body with any of them is a bill, and a bill
# without its `response_code` is not one IAK sent.
POSTPAID_ONLY = ("response_code", "tr_name", "period", "nominal", "admin", "noref")
# The callback answers that callback health counts as refusals.
REFUSALS = {
    401: Refusal.BAD_SIGN,
    403: Refusal.NOT_ALLOWED,
    400: Refusal.MALFORMED,
    413: Refusal.TOO_LARGE,
}


class SignedTransactionData(TransactionData):
    """A callback's `data`: the same fields, with IAK's sign required."""

    sign: Annotated[
        str,
        WithJsonSchema(
            {
                "type": "string",
                "description": "md5(IAK_USERNAME + IAK_API_KEY + ref_id), lowercase hex.",
                "examples": ["96e1028f6beaa817ee3670a39c01c69d"],
            }
        ),
    ]


class CallbackBody(BaseModel):
    """What IAK POSTs to the callback URL: its `data` object, signed."""

    data: SignedTransactionData

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "data": {
                        "ref_id": "order002",
                        "status": "1",
                        "product_code": "xld25000",
                        "customer_id": "0817777215",
                        "price": "25000",
                        "message": "SUCCESS",
                        "sn": "123456789",
                        "balance": "997061249",
                        "tr_id": "3482",
                        "rc": "00",
                        "sign": "96e1028f6beaa817ee3670a39c01c69d",
                    }
                }
            ]
        }
    }


class IngestBody(BaseModel):
    """IAK's answer to a top-up or check-status (prepaid), or to a bill's inquiry, payment or
    check-status (postpaid), forwarded untouched by the merchant backend. A postpaid answer
    is told apart by its `response_code` (prepaid answers name the code `rc`)."""

    data: TransactionData | PostpaidBill
    created_at: str | None = Field(
        None,
        description="When the transaction happened: ISO 8601 with a UTC offset (optional). "
        "Not before 2000, not in the future.",
        examples=["2026-11-28T10:00:00+07:00"],
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "data": {
                        "ref_id": "order001",
                        "status": 0,
                        "product_code": "xld25000",
                        "customer_id": "0817777215",
                        "price": 25000,
                        "message": "PROCESS",
                        "balance": 997061249,
                        "tr_id": 3482,
                        "rc": "39",
                    },
                    "created_at": "2026-11-28T10:00:00+07:00",
                },
                {
                    "data": {
                        "ref_id": "bill001",
                        "tr_id": 9732795,
                        "code": "PLNPOSTPAID",
                        "datetime": "20261128100000",
                        "hp": "6391601202",
                        "tr_name": "JAORAH",
                        "period": "202611",
                        "nominal": 129610,
                        "admin": 7500,
                        "status": 3,
                        "response_code": "39",
                        "message": "PENDING / TRANSAKSI SEDANG DIPROSES",
                        "price": 137110,
                        "selling_price": 133510,
                        "balance": 996850749,
                    }
                },
            ]
        }
    }


class IntakeError(Exception):
    """A request that cannot be stored, with the HTTP status to answer and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Stored:
    """An observation that is now in the database."""

    ref_id: str
    outcome: Outcome
    duplicate: bool
    # the rc of what was received (normalised, "06"), for the metrics
    rc: str | None = None


class Intake:
    """Validates, authenticates and stores incoming transaction results."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        database: Database,
        clock: Clock,
        refusals: CallbackRefusals | None = None,
    ) -> None:
        self.settings = settings
        self.refusals = refusals
        self.registry = registry
        self.database = database
        self.clock = clock
        self._allowed = _networks(settings.callback_allowed_ips)
        # where IAK's documentation says it calls back from (both environments)
        self._iak = {ipaddress.ip_address(ip) for ip in IAK_CALLBACK_IPS.values()}
        self._any_proxy = "*" in settings.forwarded_allow_ips
        self._proxies = _networks(ip for ip in settings.forwarded_allow_ips if ip != "*")

    async def callback(self, body: bytes, *, peer: str | None, forwarded_for: str | None) -> Stored:
        """`POST /iak/callback`: IAK's final result for a transaction, signed with our key.

        Refusals (bad sign, address not allowed, unreadable) are counted for callback health.
        """
        # The try costs nothing while no error is raised: an accepted callback does no
        # more work than before.
        try:
            self._check_source(peer, forwarded_for)
            document = _json_object(body)
            data = _data_object(document)
            ref_id = data.get("ref_id")
            if not isinstance(ref_id, str | int) or not valid_ref_id(str(ref_id).strip()):
                raise IntakeError(400, "data.ref_id is missing or not 1-100 printable characters")
            username, api_key = self.settings.iak_username, self.settings.iak_api_key
            if not username or not api_key:
                raise IntakeError(
                    503, "callbacks cannot be verified: IAK_USERNAME and IAK_API_KEY are not set"
                )
            given = data.get("sign", document.get("sign"))
            if not verify(username, api_key, str(ref_id).strip(), given):
                raise IntakeError(401, "sign is missing or wrong for this ref_id")
            return await self._store(Source.CALLBACK, data, created_at=None)
        except IntakeError as exc:
            self.refused(exc, peer, forwarded_for, body)
            raise

    def refused(
        self,
        exc: IntakeError,
        peer: str | None,
        forwarded_for: str | None,
        body: bytes | None = None,
    ) -> None:
        """Count a refused callback for callback health, when it is plausibly IAK's: from
        CALLBACK_ALLOWED_IPS or an address IAK documents, or (decided when the count is
        written) naming a ref_id already stored. A stranger's refusal is only counted in
        the metrics, so no stranger can open an incident or page anyone."""
        reason = REFUSALS.get(exc.status)
        if reason is None or self.refusals is None:
            return
        address = self.caller(peer, forwarded_for)
        known = address is not None and (
            address in self._iak or any(address in network for network in self._allowed)
        )
        ref_id = None if known or body is None else _ref_id_in(body)
        if not known and ref_id is None:
            return
        self.refusals.note(
            reason,
            self.clock.now(),
            address=str(address) if address is not None else peer,
            detail=exc.message,
            ref_id=ref_id,
        )

    async def ingest(self, body: bytes, *, authorization: str | None) -> Stored:
        """`POST /transactions`: IAK's answer to a top-up or check-status, forwarded as is."""
        token = self.settings.ingest_token
        if not token:
            raise IntakeError(503, "ingest is disabled: set INGEST_TOKEN to enable it")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise IntakeError(401, "missing or wrong bearer token")
        document = _json_object(body)
        data = _data_object(document)
        now = self.clock.now()
        created_at = _created_at(document.get("created_at"), now)
        if _line(data) is Line.POSTPAID:
            return await self._store_bill(data, created_at=created_at)
        return await self._store(Source.INGEST, data, created_at=created_at)

    async def _store(self, source: Source, data: Json, *, created_at: datetime | None) -> Stored:
        try:
            parsed = TransactionData.model_validate(data)
        except ValidationError as exc:
            raise IntakeError(400, _explain(exc)) from None
        observation = Observation(
            source=source,
            data=parsed,
            outcome=parsed.outcome(self.registry, source),
            observed_at=self.clock.now(),
            created_at=created_at,
        )
        return await self._write(observation)

    async def _store_bill(self, data: Json, *, created_at: datetime | None) -> Stored:
        """A postpaid answer: its outcome from the postpaid table, its time from IAK's own
        `datetime` unless the backend gave one."""
        try:
            bill = PostpaidBill.model_validate(data)
        except ValidationError as exc:
            raise IntakeError(400, "postpaid answer: " + _explain(exc)) from None
        if bill.is_inquiry_answer:
            # Stored as a success it would read as a paid bill, and the payment that may
            # never follow would go unnoticed; the payment's own answer is what to store.
            raise IntakeError(
                400,
                "postpaid answer: response_code 00 without status or noref is an inquiry's "
                "answer, not a payment: nothing was paid, so nothing is stored; forward the "
                "payment's answer (or its check-status)",
            )
        now = self.clock.now()
        if created_at is None and bill.datetime is not None:
            created_at = _iak_time(bill.datetime, now)
        observation = Observation(
            source=Source.INGEST,
            data=bill,
            outcome=bill.outcome(self.registry, Source.INGEST).stored,
            observed_at=now,
            created_at=created_at,
            line=Line.POSTPAID,
        )
        return await self._write(observation)

    async def _write(self, observation: Observation) -> Stored:
        try:
            recorded = await self.database.writer.enqueue(observation)
        except StoreUnavailable as exc:
            raise IntakeError(503, f"not stored, try again: {exc}") from None
        except StoreRejected as exc:
            raise IntakeError(400, f"not stored: {exc}") from None
        return Stored(
            ref_id=observation.ref_id,
            outcome=observation.outcome if recorded.outcome is None else recorded.outcome,
            duplicate=recorded.duplicate,
            rc=observation.data.rc,
        )

    def _check_source(self, peer: str | None, forwarded_for: str | None) -> None:
        if not self._allowed:
            return
        address = self.caller(peer, forwarded_for)
        if address is None or not any(address in network for network in self._allowed):
            raise IntakeError(403, "source address not allowed")

    def caller(self, peer: str | None, forwarded_for: str | None) -> IpAddress | None:
        """Who called: the socket's peer, unless the peer is a trusted proxy
        (FORWARDED_ALLOW_IPS); then the last X-Forwarded-For hop that is not one, since each
        proxy appends the address it was called from. What the caller itself wrote in the
        header is never believed."""
        address = _address(peer)
        if address is None or not forwarded_for or not self._trusted(address):
            return address
        hops = [hop.strip() for hop in forwarded_for.split(",")]
        for hop in reversed(hops):
            hop_address = _address(hop)
            if hop_address is None:
                return None
            if self._any_proxy or not self._trusted(hop_address):
                return hop_address
        return address

    def _trusted(self, address: IpAddress) -> bool:
        return self._any_proxy or any(address in network for network in self._proxies)


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(entries: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]


def _address(text: str | None) -> IpAddress | None:
    try:
        return ipaddress.ip_address(text or "")
    except ValueError:
        return None


def _json_object(body: bytes) -> Json:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise IntakeError(400, f"body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(document, dict):
        raise IntakeError(400, 'body must be a JSON object: {"data": {...}}')
    return document


def _ref_id_in(body: bytes) -> str | None:
    """The ref_id a refused body names, if it names a valid one."""
    try:
        data = _data_object(_json_object(body))
    except IntakeError:
        return None
    ref_id = data.get("ref_id")
    if isinstance(ref_id, str | int) and not isinstance(ref_id, bool):
        text = str(ref_id).strip()
        if valid_ref_id(text):
            return text
    return None


def _data_object(document: Json) -> Json:
    data = document.get("data")
    if not isinstance(data, dict):
        raise IntakeError(400, 'body must have a "data" object, as IAK sends it')
    return data


def _line(data: Json) -> Line:
    """Which of IAK's APIs answered: postpaid answers carry `response_code` (and bill
    fields), prepaid ones `rc`. A body with both codes, or with bill fields and no
    `response_code`, is refused rather than read against the wrong table."""
    if "response_code" in data:
        if "rc" in data:
            raise IntakeError(
                400,
                "data has both rc (a prepaid answer) and response_code (a postpaid one): "
                "forward IAK's answer as it came",
            )
        return Line.POSTPAID
    billed = [name for name in POSTPAID_ONLY if name in data]
    if billed:
        raise IntakeError(
            400,
            f"data looks like a postpaid answer ({', '.join(billed)}) but has no "
            "response_code: forward IAK's postpaid answer as it came",
        )
    return Line.PREPAID


def _iak_time(text: str, now: datetime) -> datetime:
    """IAK's postpaid `datetime` (YmdHis, WIB) as a transaction time, checked as
    created_at is."""
    try:
        moment = datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=WIB).astimezone(UTC)
    except ValueError:
        raise IntakeError(
            400, "data.datetime is not a real time: IAK's YmdHis in WIB, e.g. 20260314093000"
        ) from None
    return _plausible(moment, now, "data.datetime")


def _created_at(value: object, now: datetime) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise IntakeError(400, "created_at must be an ISO 8601 date-time string")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise IntakeError(400, "created_at must be an ISO 8601 date-time string") from None
    if parsed.tzinfo is None:
        # IAK and Indonesian backends speak WIB; without an offset we cannot know, so
        # we refuse rather than guess.
        raise IntakeError(400, "created_at needs a UTC offset, e.g. 2026-11-28T10:00:00+07:00")
    try:
        moment = parsed.astimezone(UTC)
    except OverflowError:
        raise IntakeError(400, "created_at is out of range: not a real transaction time") from None
    return _plausible(moment, now, "created_at")


def _plausible(moment: datetime, now: datetime, name: str) -> datetime:
    if moment < EARLIEST:
        raise IntakeError(400, f"{name} is before 2000: not a real transaction time")
    if moment > now + CLOCK_SKEW:
        raise IntakeError(400, f"{name} is in the future: check the backend's clock")
    return moment


def _explain(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"data.{where}: {message}")
    return "; ".join(problems)[:500]
