"""IAK's prepaid and postpaid APIs over one pooled `httpx.AsyncClient`: check-status (of
either), check-balance and the two price lists.

Every call returns a typed answer, never an exception: a timeout, an unreachable host, an
HTTP status other than 200/400 or an unreadable body is a `CallFailure` inside the answer,
because each of those is something ops must be told ("the outcome is unknown"), not a crash.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from types import TracebackType

import httpx
from pydantic import ValidationError

from bot.config import Settings
from bot.iak.models import (
    CHECK_REFUSED_RCS,
    POSTPAID_CHECK_REFUSED_RCS,
    PostpaidBill,
    PostpaidOutcome,
    TransactionData,
    _rupiah,  # the same lenient rupiah parsing as transactions ("997136249", 25000.0)
)
from bot.iak.products import Product, parse_price_list
from bot.iak.signing import (
    BALANCE_SUFFIX,
    POSTPAID_CHECK_STATUS_SUFFIX,
    PRICE_LIST_SUFFIX,
    sign,
)
from bot.outcomes import Outcome, Source
from bot.registry import Line, Registry, normalize_rc
from bot.shapes import Json, JsonView

log = logging.getLogger(__name__)

CHECK_STATUS_PATH = "/api/check-status"
CHECK_BALANCE_PATH = "/api/check-balance"
PRICE_LIST_PATH = "/api/pricelist"
# Every postpaid request goes to this one path; its `commands` field says what it is.
POSTPAID_PATH = "/api/v1/bill/check"
POSTPAID_CHECK_STATUS = "checkstatus"
POSTPAID_PRICE_LIST = "pricelist-pasca"
# IAK reads `data.rc` on these two; any other HTTP status is the seed's OTHER row.
READABLE_HTTP_STATUSES = frozenset({200, 400})
USER_AGENT = "iak-bot/0.1.0"

# Told of every call when it ends: which call (check_status, check_balance, price_list,
# postpaid_check_status, postpaid_price_list), the seconds it took with its retries, and why
# it got no usable answer (an ErrorKind's value), or None when it did.
CallObserver = Callable[[str, float, str | None], None]


@dataclass(frozen=True)
class CallLimits:
    """How long one call may take and how it retries; shortened by tests, never by users."""

    connect_timeout: float = 5.0
    # The whole call, every retry and backoff included: what ops wait for at most.
    deadline: float = 10.0
    max_retries: int = 2
    backoff: float = 0.25
    # Requests to IAK at once, for the whole process (status commands, Recheck buttons and
    # the monitor's rechecks share them): however many people click, IAK sees a few.
    max_in_flight: int = 5


# The share of the deadline a call must still have when its slot comes free to be sent.
MIN_DEADLINE_LEFT = 0.25


@dataclass(frozen=True)
class IakEndpoint:
    """Which IAK the bot asks: the environment (IAK_ENV) and the base URL in effect."""

    environment: str
    base_url: str
    # IAK's prepaid and postpaid APIs have hosts (and base URL settings) of their own.
    line: Line = Line.PREPAID


class ErrorKind(StrEnum):
    """Why no usable answer came back (all of them: outcome unknown, treat as pending)."""

    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    HTTP_STATUS = "http_status"
    UNPARSEABLE = "unparseable"
    # The bot's own cap on requests in flight: no slot came free in time, IAK was not asked.
    BUSY = "busy"


@dataclass(frozen=True)
class CallFailure:
    """A call that got no usable answer; `detail` is safe to show (no key, no sign)."""

    kind: ErrorKind
    detail: str
    http_status: int | None = None


@dataclass(frozen=True)
class Answer:
    """What one endpoint gave back after retries: IAK's `data` object, or a failure."""

    endpoint: IakEndpoint
    attempts: int
    elapsed: float
    http_status: int | None = None
    data: JsonView | None = None
    failure: CallFailure | None = None

    @property
    def line(self) -> Line:
        """Which API answered, and so which of IAK's code tables its code belongs to."""
        return self.endpoint.line

    @property
    def rc(self) -> str | None:
        """IAK's response code, leading zeros kept (`"06"`): `rc` in prepaid answers,
        `response_code` in postpaid ones."""
        value = None
        if self.data is not None:
            if self.line is Line.POSTPAID:
                value = self.data.get("response_code")
            if value is None:
                value = self.data.get("rc")
        if value is None or isinstance(value, bool | dict | list):
            return None
        text = str(value).strip()
        return (normalize_rc(text) or text[:16]) if text else None

    @property
    def message(self) -> str | None:
        """IAK's `message`, as sent."""
        return self._text("message")

    @property
    def error_details(self) -> str | None:
        """`data.error_details`, which IAK's HTTP table says a 400 carries."""
        return self._text("error_details")

    def _text(self, key: str) -> str | None:
        value = None if self.data is None else self.data.get(key)
        if value is None:
            return None
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return text.strip()[:500] or None


class _AnswerFields:
    """What every check exposes of IAK's answer."""

    answer: Answer

    @property
    def failure(self) -> CallFailure | None:
        """Set when IAK gave no usable answer."""
        return self.answer.failure

    @property
    def rc(self) -> str | None:
        """IAK's response code for this check."""
        return self.answer.rc


@dataclass(frozen=True)
class StatusCheck(_AnswerFields):
    """The answer to check-status for one ref_id."""

    ref_id: str
    answer: Answer
    outcome: Outcome
    transaction: TransactionData | None = None

    @property
    def refused(self) -> bool:
        """IAK refused the check itself (06, 102, 204, …): the rc says nothing of the top-up."""
        return self.failure is None and self.rc in CHECK_REFUSED_RCS


@dataclass(frozen=True)
class PostpaidCheck(_AnswerFields):
    """The answer to IAK's postpaid check-status for one ref_id (a bill payment). `bill`
    is what the store keeps of it (`outcome.stored`: a bill never paid is a failed payment).
    """

    ref_id: str
    answer: Answer
    outcome: PostpaidOutcome
    bill: PostpaidBill | None = None

    @property
    def refused(self) -> bool:
        """IAK refused the check itself (100 wrong sign, 06 not found, 102…)."""
        return self.failure is None and self.rc in POSTPAID_CHECK_REFUSED_RCS


@dataclass(frozen=True)
class BalanceCheck(_AnswerFields):
    """The answer to check-balance: the deposit in rupiah, when IAK told it."""

    answer: Answer
    balance: int | None = None


@dataclass(frozen=True)
class PriceListFetch(_AnswerFields):
    """One of IAK's price lists as IAK gave it now: its products, or None (see `failure`
    and `rc`: IAK unreachable, or the request refused)."""

    line: Line
    answer: Answer
    products: tuple[Product, ...] | None = None


class _Retryable(Exception):
    """An attempt that may be retried, carrying what to report if it was the last."""

    def __init__(self, failure: CallFailure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


class _Unusable(Exception):
    """An answer that came back but cannot be used (4xx, not JSON); retrying will not help."""

    def __init__(self, failure: CallFailure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


class IakClient:
    """One per process: pooled connections to IAK, TLS verified, signs every request."""

    def __init__(
        self,
        *,
        username: str,
        api_key: str,
        endpoint: IakEndpoint,
        postpaid_endpoint: IakEndpoint,
        registry: Registry,
        limits: CallLimits | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        jitter: Callable[[], float] | None = None,
        observe: CallObserver | None = None,
    ) -> None:
        self.endpoint = endpoint
        # Its answers carry `response_code`, from IAK's postpaid table, whatever the caller said.
        self.postpaid_endpoint = replace(postpaid_endpoint, line=Line.POSTPAID)
        self.limits = limits or CallLimits()
        self._username = username
        self._api_key = api_key
        self._registry = registry
        self._observe = observe
        # Its own generator: the process-wide one belongs to whoever else seeds or uses it.
        self._jitter = jitter or random.Random().random  # noqa: S311 - backoff, not crypto
        self._in_flight = asyncio.Semaphore(self.limits.max_in_flight)
        # No base_url: the prepaid and postpaid hosts share the pool, each its own connections.
        self._http = httpx.AsyncClient(
            transport=transport,
            verify=True,
            # The whole-call deadline (asyncio.timeout in `_call`) ends a slow answer; httpx's
            # own read/write/pool timeouts sit just past it so they never fire first.
            timeout=httpx.Timeout(self.limits.deadline + 1, connect=self.limits.connect_timeout),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
        )

    def endpoint_of(self, line: Line) -> IakEndpoint:
        """Where checks of that line go (prepaid and postpaid are two APIs)."""
        return self.postpaid_endpoint if line is Line.POSTPAID else self.endpoint

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        registry: Registry,
        *,
        limits: CallLimits | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        observe: CallObserver | None = None,
    ) -> IakClient:
        """The client for IAK_ENV / IAK_BASE_URL / IAK_POSTPAID_BASE_URL; ConfigError names
        missing credentials."""
        settings.require("iak_username", "iak_api_key", why="to ask IAK for live status")
        assert settings.iak_username is not None and settings.iak_api_key is not None
        return cls(
            username=settings.iak_username,
            api_key=settings.iak_api_key,
            endpoint=IakEndpoint(settings.iak_env, settings.iak_url),
            postpaid_endpoint=IakEndpoint(
                settings.iak_env, settings.iak_postpaid_url, Line.POSTPAID
            ),
            registry=registry,
            limits=limits,
            transport=transport,
            observe=observe,
        )

    async def __aenter__(self) -> IakClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    async def check_status(self, ref_id: str) -> StatusCheck:
        """Ask IAK what happened to `ref_id`; never raises for anything IAK does."""
        payload = {
            "username": self._username,
            "ref_id": ref_id,
            "sign": sign(self._username, self._api_key, ref_id),
        }
        answer = await self._call(
            self.endpoint, CHECK_STATUS_PATH, payload, label=ref_id, name="check_status"
        )
        if answer.failure is not None or answer.data is None:
            return StatusCheck(ref_id, answer, Outcome.UNKNOWN)
        if answer.rc in CHECK_REFUSED_RCS:
            # The check was refused (not found, wrong sign, IP not whitelisted…): even if a
            # status came along, it describes the request, not the top-up.
            return StatusCheck(ref_id, answer, Outcome.UNKNOWN, self._transaction(ref_id, answer))
        transaction = self._transaction(ref_id, answer)
        if transaction is None:
            failure = CallFailure(ErrorKind.UNPARSEABLE, "the data object is not a transaction")
            return StatusCheck(ref_id, replace(answer, failure=failure), Outcome.UNKNOWN)
        return StatusCheck(
            ref_id, answer, transaction.outcome(self._registry, Source.STATUS_CHECK), transaction
        )

    async def check_balance(self) -> BalanceCheck:
        """Ask IAK for the deposit balance; never raises for anything IAK does."""
        payload = {
            "username": self._username,
            "sign": sign(self._username, self._api_key, BALANCE_SUFFIX),
        }
        answer = await self._call(
            self.endpoint, CHECK_BALANCE_PATH, payload, label="balance", name="check_balance"
        )
        if answer.failure is not None or answer.data is None:
            return BalanceCheck(answer)
        balance = _rupiah(answer.data.get("balance"))
        if balance is None and answer.rc in (None, "00"):
            failure = CallFailure(ErrorKind.UNPARSEABLE, "no balance in IAK's answer")
            return BalanceCheck(replace(answer, failure=failure))
        return BalanceCheck(answer, balance)

    async def check_postpaid_status(self, ref_id: str) -> PostpaidCheck:
        """Ask IAK's postpaid API how the bill paid under `ref_id` stands; never raises."""
        payload = {
            "commands": POSTPAID_CHECK_STATUS,
            "username": self._username,
            "ref_id": ref_id,
            "sign": sign(self._username, self._api_key, POSTPAID_CHECK_STATUS_SUFFIX),
        }
        answer = await self._call(
            self.postpaid_endpoint,
            POSTPAID_PATH,
            payload,
            label=f"postpaid {ref_id}",
            name="postpaid_check_status",
        )
        if answer.failure is not None or answer.data is None:
            return PostpaidCheck(ref_id, answer, PostpaidOutcome.UNKNOWN)
        bill = self._bill(ref_id, answer)
        if answer.rc in POSTPAID_CHECK_REFUSED_RCS:
            return PostpaidCheck(ref_id, answer, PostpaidOutcome.UNKNOWN, bill)
        if bill is None:
            failure = CallFailure(ErrorKind.UNPARSEABLE, "the data object is not a bill")
            return PostpaidCheck(ref_id, replace(answer, failure=failure), PostpaidOutcome.UNKNOWN)
        return PostpaidCheck(ref_id, answer, bill.outcome(self._registry), bill)

    async def price_list(self, line: Line) -> PriceListFetch:
        """Every product of IAK's prepaid or postpaid price list, active or not; never raises."""
        payload = {
            "username": self._username,
            "sign": sign(self._username, self._api_key, PRICE_LIST_SUFFIX),
            "status": "all",
        }
        if line is Line.POSTPAID:
            payload = {"commands": POSTPAID_PRICE_LIST, **payload}
            endpoint, path, name = self.postpaid_endpoint, POSTPAID_PATH, "postpaid_price_list"
        else:
            endpoint, path, name = self.endpoint, PRICE_LIST_PATH, "price_list"
        answer = await self._call(
            endpoint, path, payload, label=f"{line.value} price list", name=name
        )
        if answer.failure is not None or answer.data is None:
            return PriceListFetch(line, answer)
        products = parse_price_list(line, answer.data)
        if products is None and answer.rc in (None, "00"):
            failure = CallFailure(ErrorKind.UNPARSEABLE, "no price list in IAK's answer")
            return PriceListFetch(line, replace(answer, failure=failure))
        return PriceListFetch(line, answer, products)

    @staticmethod
    def _bill(ref_id: str, answer: Answer) -> PostpaidBill | None:
        assert answer.data is not None
        fields = {**answer.data, "ref_id": answer.data.get("ref_id") or ref_id}
        try:
            return PostpaidBill.model_validate(fields)
        except ValidationError:
            return None

    @staticmethod
    def _transaction(ref_id: str, answer: Answer) -> TransactionData | None:
        assert answer.data is not None
        # Refusals may come without the ref_id; the answer is about the one we asked for.
        fields = {**answer.data, "ref_id": answer.data.get("ref_id") or ref_id}
        try:
            return TransactionData.model_validate(fields)
        except ValidationError:
            return None

    async def _call(
        self, endpoint: IakEndpoint, path: str, payload: dict[str, str], *, label: str, name: str
    ) -> Answer:
        """POST with retries on connection errors and 5xx, all within the deadline."""
        limits = self.limits
        started = time.monotonic()
        attempts = 0
        last: CallFailure | None = None
        busy = CallFailure(
            ErrorKind.BUSY,
            f"the bot already had {limits.max_in_flight} requests waiting on IAK and none "
            f"ended in time; IAK was not asked",
        )
        try:
            async with asyncio.timeout(limits.deadline):
                async with self._in_flight:
                    # A slot that comes free too late for IAK to answer is not worth a request.
                    if time.monotonic() - started > limits.deadline * (1 - MIN_DEADLINE_LEFT):
                        return self._finish(endpoint, name, path, label, started, attempts, busy)
                    while True:
                        attempts += 1
                        try:
                            http_status, data = await self._attempt(endpoint, path, payload)
                        except _Unusable as unusable:
                            return self._finish(
                                endpoint, name, path, label, started, attempts, unusable.failure
                            )
                        except _Retryable as retryable:
                            last = retryable.failure
                            delay = self._backoff(attempts)
                            remaining = limits.deadline - (time.monotonic() - started)
                            if attempts > limits.max_retries or delay >= remaining:
                                break
                            log.info(
                                "IAK %s %s: %s; retrying in %.2f s",
                                path,
                                label,
                                last.detail,
                                delay,
                            )
                            await asyncio.sleep(delay)
                        else:
                            return self._finish(
                                endpoint,
                                name,
                                path,
                                label,
                                started,
                                attempts,
                                None,
                                http_status,
                                data,
                            )
        except TimeoutError:
            if attempts == 0:
                last = busy
            else:
                before = f"; before that: {last.detail}" if last else ""
                last = CallFailure(
                    ErrorKind.TIMEOUT, f"no answer within {limits.deadline:g} s{before}"
                )
        assert last is not None
        return self._finish(endpoint, name, path, label, started, attempts, last)

    async def _attempt(
        self, endpoint: IakEndpoint, path: str, payload: dict[str, str]
    ) -> tuple[int, Json]:
        try:
            response = await self._http.post(endpoint.base_url + path, json=payload)
        except httpx.TimeoutException:
            # httpx's other timeouts are set past the deadline: only connecting can time out here.
            raise _Retryable(
                CallFailure(
                    ErrorKind.UNREACHABLE,
                    f"could not connect within {self.limits.connect_timeout:g} s",
                )
            ) from None
        except httpx.TransportError as exc:
            # Every call the bot makes only reads (check-status, balance, price lists), so
            # resending after a dropped connection is safe.
            raise _Retryable(CallFailure(ErrorKind.UNREACHABLE, _transport_detail(exc))) from None
        status = response.status_code
        if status >= 500:
            raise _Retryable(CallFailure(ErrorKind.HTTP_STATUS, f"HTTP {status}", status))
        if status not in READABLE_HTTP_STATUSES:
            raise _Unusable(CallFailure(ErrorKind.HTTP_STATUS, f"HTTP {status}", status))
        try:
            body = response.json()
        except ValueError:
            raise _Unusable(
                CallFailure(ErrorKind.UNPARSEABLE, "the answer is not JSON", status)
            ) from None
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, list):
            # IAK's reference shows the prepaid price list as `data` itself; its SDKs read it
            # from `data.pricelist`. One shape for the parser.
            data = {"pricelist": data}
        if not isinstance(data, dict):
            raise _Unusable(
                CallFailure(ErrorKind.UNPARSEABLE, 'the answer has no "data" object', status)
            )
        return status, data

    def _backoff(self, attempt: int) -> float:
        # Exponential, with jitter so that many checks failing together do not retry in step.
        return float(self.limits.backoff * 2 ** (attempt - 1) * (0.5 + self._jitter()))

    def _finish(
        self,
        endpoint: IakEndpoint,
        name: str,
        path: str,
        label: str,
        started: float,
        attempts: int,
        failure: CallFailure | None,
        http_status: int | None = None,
        data: Json | None = None,
    ) -> Answer:
        elapsed = time.monotonic() - started
        if failure is not None:
            http_status = failure.http_status
        answer = Answer(endpoint, attempts, elapsed, http_status, data, failure)
        if self._observe is not None:
            self._observe(name, elapsed, failure.kind.value if failure else None)
        # Log what ops need to follow a check, never the payload (it carries the sign).
        if failure is None:
            log.info(
                "IAK %s %s: HTTP %s rc %s in %.0f ms (%d attempt(s))",
                path,
                label,
                http_status,
                answer.rc,
                elapsed * 1000,
                attempts,
            )
        else:
            log.warning(
                "IAK %s %s failed: %s after %.0f ms (%d attempt(s))",
                path,
                label,
                failure.detail,
                elapsed * 1000,
                attempts,
            )
        return answer


def _transport_detail(exc: httpx.TransportError) -> str:
    reason = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {reason[:200]}" if reason else name
