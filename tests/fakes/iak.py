"""A loopback fake of IAK's prepaid API (check-status, check-balance), recording every call.

It checks the `sign` of every request the way IAK does and answers rc 204 when it is
wrong, so a test passes only if the bot really signs. Known transactions are answered as
IAK documents them; an unknown ref_id is rc 06 with HTTP 400 (what IAK's own SDK tests
expect). Tests script anything else per ref_id: a 200 not-found, 102, v1 field names,
string statuses, a 5xx, a hang past the client's deadline, garbage.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from tests.fakes.loopback import Answer, LoopbackServer

BALANCE = "balance"


def iak_sign(username: str, api_key: str, suffix: str) -> str:
    """IAK's sign, computed independently of the bot's own code."""
    return hashlib.md5((username + api_key + suffix).encode()).hexdigest()


@dataclass(frozen=True)
class IakCall:
    """One request the fake received."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float
    # The caller's port: the same port on successive calls means a pooled connection.
    client_port: int

    @property
    def ref_id(self) -> str | None:
        value = self.body.get("ref_id")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class IakReply:
    """A scripted answer: `data` is wrapped as `{"data": …}`; `raw` is sent as it is."""

    http_status: int = 200
    data: dict[str, Any] | None = None
    raw: bytes | None = None
    delay: float = 0.0
    # Close the connection without answering (a dropped connection).
    drop: bool = False


def transaction(ref_id: str, outcome: str = "success", **fields: Any) -> dict[str, Any]:
    """A check-status `data` object as IAK documents it (success, failed or pending)."""
    status, rc, message = {
        "success": (1, "00", "SUCCESS"),
        "failed": (2, "07", "FAILED"),
        "pending": (0, "39", "PROCESS"),
    }[outcome]
    data: dict[str, Any] = {
        "ref_id": ref_id,
        "status": status,
        "product_code": "xld25000",
        "customer_id": "0817777215",
        "price": 25000,
        "message": message,
        "balance": 997061249,
        "tr_id": 3482,
        "rc": rc,
    }
    if outcome == "success":
        data["sn"] = "123456789"
    data.update(fields)
    return data


def refusal(rc: str, message: str, **fields: Any) -> dict[str, Any]:
    """A request-level refusal such as 06, 102 or 204."""
    return {"rc": rc, "message": message, **fields}


NOT_FOUND = refusal("06", "TRANSACTION NOT FOUND")
WRONG_SIGN = refusal("204", "WRONG AUTHENTICATION")
IP_NOT_ALLOWED = refusal("102", "INVALID IP ADDRESS")


class FakeIak(LoopbackServer):
    """IAK's prepaid API on 127.0.0.1 with a free port; use as a context manager."""

    def __init__(self, username: str, api_key: str, *, balance: int = 997136249) -> None:
        super().__init__()
        self.username = username
        self.api_key = api_key
        self.balance = balance
        self.calls: list[IakCall] = []
        # Every answer is delayed this long (the benchmark's slow IAK).
        self.delay = 0.0
        self._transactions: dict[str, dict[str, Any]] = {}
        self._scripts: dict[str, deque[IakReply]] = {}
        self._always: dict[str, IakReply] = {}
        self._ip_blocked = False

    @property
    def url(self) -> str:
        """What IAK_BASE_URL should be."""
        return self.base_url

    # Scripting -----------------------------------------------------------------
    def add(self, data: dict[str, Any]) -> None:
        """A transaction IAK knows: check-status answers it with HTTP 200."""
        with self._lock:
            self._transactions[str(data["ref_id"])] = data

    def script(self, ref_id: str, *replies: IakReply) -> None:
        """Answer the next checks of `ref_id` with these replies, in order (BALANCE for balance)."""
        with self._lock:
            self._scripts.setdefault(ref_id, deque()).extend(replies)

    def always(self, ref_id: str, reply: IakReply) -> None:
        """Answer every check of `ref_id` with `reply` (BALANCE for balance)."""
        with self._lock:
            self._always[ref_id] = reply

    def block_ip(self, blocked: bool = True) -> None:
        """Refuse every request with rc 102, as IAK does for an IP not on the whitelist."""
        with self._lock:
            self._ip_blocked = blocked

    # Inspection ----------------------------------------------------------------
    def calls_for(self, ref_id: str) -> list[IakCall]:
        """Every check-status call for `ref_id` (BALANCE: every check-balance call)."""
        with self._lock:
            if ref_id == BALANCE:
                return [call for call in self.calls if call.path == "/api/check-balance"]
            return [call for call in self.calls if call.ref_id == ref_id]

    def wait_for_calls(self, count: int, timeout: float = 5.0) -> list[IakCall]:
        """Block until `count` calls arrived; fail the test otherwise."""

        def found() -> list[IakCall] | None:
            return list(self.calls) if len(self.calls) >= count else None

        return self._wait_for(found, timeout, f"expected {count} IAK call(s)")

    # Serving -------------------------------------------------------------------
    def _answer(self, path: str, body: dict[str, Any]) -> IakReply:
        username = body.get("username")
        if path == "/api/check-status":
            key = body.get("ref_id")
            suffix = key if isinstance(key, str) else ""
        elif path == "/api/check-balance":
            key, suffix = BALANCE, "bl"
        else:
            return IakReply(404, raw=b"Not Found")
        with self._lock:
            if self._ip_blocked:
                return IakReply(400, IP_NOT_ALLOWED)
            expected = iak_sign(self.username, self.api_key, suffix)
            if username != self.username or body.get("sign") != expected or not suffix:
                return IakReply(400, WRONG_SIGN)
            assert isinstance(key, str)
            queue = self._scripts.get(key)
            if queue:
                return queue.popleft()
            if key in self._always:
                return self._always[key]
            if key == BALANCE:
                return IakReply(200, {"balance": self.balance, "message": "SUCCESS", "rc": "00"})
            known = self._transactions.get(key)
        if known is not None:
            return IakReply(200, known)
        return IakReply(400, {**NOT_FOUND, "ref_id": key})

    def answer(self, path: str, raw: bytes, headers: dict[str, str], client_port: int) -> Answer:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        with self._lock:
            self.calls.append(IakCall(path, body, headers, time.monotonic(), client_port))
            self._changed()
        reply = self._answer(path, body)
        delay = self.delay + reply.delay
        if reply.raw is not None:
            return Answer(reply.http_status, reply.raw, "text/html", delay=delay, drop=reply.drop)
        payload = json.dumps({"data": reply.data or {}}).encode()
        return Answer(reply.http_status, payload, delay=delay, drop=reply.drop)
