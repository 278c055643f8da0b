"""A loopback fake of IAK's prepaid API (check-status, check-balance, price list) and of its
postpaid API (check-status, price list), recording every call. Both live on one port: their
paths differ, so IAK_BASE_URL and IAK_POSTPAID_BASE_URL can both point at it.

It checks the `sign` of every request the way IAK does and refuses a wrong one as IAK does
(prepaid rc 204; postpaid response_code 100), so a test passes only if the bot really signs.
Known transactions and bills are answered as IAK documents them; an unknown prepaid ref_id
is rc 06 with HTTP 400 (what IAK's own SDK tests expect). IAK does not document what its
postpaid check-status answers for a ref_id it does not know: the fake answers 06 INQUIRY ID
NOT FOUND (the postpaid table's only "not found"), with HTTP 400 as on prepaid. Tests script
anything else per key (a ref_id, `postpaid(ref_id)`, BALANCE or a price list): a 200
not-found, 102, v1 field names, string statuses, a 5xx, a hang past the deadline, garbage.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from tests.support.fakes.loopback import Answer, LoopbackServer

BALANCE = "balance"
PREPAID_PRICE_LIST = "pricelist"
POSTPAID_PRICE_LIST = "pricelist-pasca"
POSTPAID_PATH = "/api/v1/bill/check"


def postpaid(ref_id: str) -> str:
    """The key under which to script or inspect postpaid check-status calls for `ref_id`."""
    return f"postpaid {ref_id}"


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
    # a list sent as `data` itself (the prepaid price list, as IAK's reference shows it)
    items: list[dict[str, Any]] | None = None
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


def postpaid_refusal(code: str, message: str, **fields: Any) -> dict[str, Any]:
    """A postpaid refusal: its code is in `response_code`."""
    return {"response_code": code, "message": message, **fields}


POSTPAID_NOT_FOUND = postpaid_refusal("06", "INQUIRY ID NOT FOUND")
POSTPAID_WRONG_SIGN = postpaid_refusal("100", "INVALID SIGNATURE")
POSTPAID_BAD_COMMAND = postpaid_refusal("101", "INVALID COMMAND")
POSTPAID_IP_NOT_ALLOWED = postpaid_refusal("102", "INVALID IP ADDRESS")


def bill(ref_id: str, outcome: str = "success", **fields: Any) -> dict[str, Any]:
    """A postpaid check-status `data` object as IAK documents it.

    `outcome`: success (status 1), failed (2), pending (3, in process) or not_paid (0,
    the payment request never reached IAK).
    """
    status, code, message = {
        "success": (1, "00", "PAYMENT SUCCESS"),
        "failed": (2, "37", "PEMBAYARAN GAGAL"),
        "pending": (3, "39", "PENDING / TRANSAKSI SEDANG DIPROSES"),
        "not_paid": (0, "42", "REQUEST PEMBAYARAN BELUM DITERIMA"),
    }[outcome]
    data: dict[str, Any] = {
        "tr_id": 9732795,
        "code": "TELKOMPSTN",
        "datetime": "20180803171608",
        "hp": "6391601202",
        "tr_name": "JAORAH",
        "period": "201405,201407",
        "nominal": 129610,
        "admin": 7500,
        "status": status,
        "response_code": code,
        "message": message,
        "price": 137110,
        "selling_price": 133510,
        "balance": 996850749,
        "ref_id": ref_id,
        "desc": {"kode_area": "0751", "divre": "01", "datel": "0006", "jumlah_tagihan": 3},
    }
    if outcome == "success":
        data["noref"] = "1609626"
    data.update(fields)
    return data


def prepaid_product(
    code: str, operator: str, nominal: str, price: int, **fields: Any
) -> dict[str, Any]:
    """One item of the prepaid price list, with IAK's v2 field names."""
    item: dict[str, Any] = {
        "product_code": code,
        "product_description": operator,
        "product_nominal": nominal,
        "product_details": "-",
        "product_price": price,
        "product_type": "pulsa",
        "active_period": "30",
        "status": "active",
        "icon_url": "https://cdn.mobilepulsa.net/img/logo/pulsa/small/xl.png",
        "product_category": "pulsa",
    }
    item.update(fields)
    return item


def postpaid_product(code: str, name: str, fee: int, **fields: Any) -> dict[str, Any]:
    """One item of the postpaid price list."""
    item: dict[str, Any] = {
        "code": code,
        "name": name,
        "status": 1,
        "fee": fee,
        "komisi": 700,
        "type": "pdam",
        "category": "postpaid",
    }
    item.update(fields)
    return item


PREPAID_PRODUCTS = [
    prepaid_product("xld25000", "XL", "25000", 24925),
    prepaid_product("xld50000", "XL", "50000", 49750),
    prepaid_product("htelkomsel5000", "Telkomsel", "5000", 5800, active_period="7"),
    prepaid_product("htelkomsel25000", "Telkomsel", "25000", 25350),
    prepaid_product("htelkomsel50000", "Telkomsel", "50000", 49900, status="non active"),
    prepaid_product("hindosat25000", "Indosat", "25000", 25425),
    prepaid_product("pln20000", "PLN", "20000", 20150, product_type="pln", active_period="0"),
    prepaid_product(
        "hmobilelegend110",
        "Mobile Legend",
        "110 Diamonds",
        30000,
        product_type="game",
        active_period="0",
    ),
]
POSTPAID_PRODUCTS = [
    postpaid_product("BPJS", "BPJS Kesehatan", 2500, type="bpjs"),
    postpaid_product("PDAMKAB.BOGOR", "PDAM KAB. BOGOR (JABAR)", 2500, province="Jawa Barat"),
    postpaid_product("TELKOMPSTN", "Telkom PSTN", 2500, type="internet", status=4),
]


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
        self._bills: dict[str, dict[str, Any]] = {}
        self._ip_blocked = False
        self.prepaid_products: list[dict[str, Any]] = list(PREPAID_PRODUCTS)
        self.postpaid_products: list[dict[str, Any]] = list(POSTPAID_PRODUCTS)

    @property
    def url(self) -> str:
        """What IAK_BASE_URL should be."""
        return self.base_url

    # Scripting -----------------------------------------------------------------
    def add(self, data: dict[str, Any]) -> None:
        """A transaction IAK knows: check-status answers it with HTTP 200."""
        with self._lock:
            self._transactions[str(data["ref_id"])] = data

    def add_bill(self, data: dict[str, Any]) -> None:
        """A postpaid bill IAK knows: postpaid check-status answers it with HTTP 200."""
        with self._lock:
            self._bills[str(data["ref_id"])] = data

    def set_price_list(self, line: str, items: list[dict[str, Any]]) -> None:
        """What the `prepaid` or `postpaid` price list holds from now on."""
        with self._lock:
            if line == "postpaid":
                self.postpaid_products = list(items)
            else:
                self.prepaid_products = list(items)

    def script(self, ref_id: str, *replies: IakReply) -> None:
        """Answer the next calls for a key with these replies, in order: a ref_id,
        `postpaid(ref_id)`, BALANCE, PREPAID_PRICE_LIST or POSTPAID_PRICE_LIST."""
        with self._lock:
            self._scripts.setdefault(ref_id, deque()).extend(replies)

    def always(self, ref_id: str, reply: IakReply) -> None:
        """Answer every call for a key (as in `script`) with `reply`."""
        with self._lock:
            self._always[ref_id] = reply

    def block_ip(self, blocked: bool = True) -> None:
        """Refuse every request with rc 102, as IAK does for an IP not on the whitelist."""
        with self._lock:
            self._ip_blocked = blocked

    # Inspection ----------------------------------------------------------------
    def calls_for(self, ref_id: str) -> list[IakCall]:
        """Every call for a key, as in `script` (a bare ref_id: prepaid check-status)."""
        with self._lock:
            return [call for call in self.calls if _key(call.path, call.body)[0] == ref_id]

    def wait_for_calls(self, count: int, timeout: float = 5.0) -> list[IakCall]:
        """Block until `count` calls arrived; fail the test otherwise."""

        def found() -> list[IakCall] | None:
            return list(self.calls) if len(self.calls) >= count else None

        return self._wait_for(found, timeout, f"expected {count} IAK call(s)")

    # Serving -------------------------------------------------------------------
    def _answer(self, path: str, body: dict[str, Any]) -> IakReply:
        key, suffix = _key(path, body)
        if key is None:
            return IakReply(404, raw=b"Not Found")
        on_postpaid = path == POSTPAID_PATH
        with self._lock:
            if self._ip_blocked:
                return IakReply(400, POSTPAID_IP_NOT_ALLOWED if on_postpaid else IP_NOT_ALLOWED)
            if suffix is None:  # a postpaid request with a command IAK does not know
                return IakReply(400, POSTPAID_BAD_COMMAND)
            expected = iak_sign(self.username, self.api_key, suffix)
            if body.get("username") != self.username or body.get("sign") != expected or not suffix:
                return IakReply(400, POSTPAID_WRONG_SIGN if on_postpaid else WRONG_SIGN)
            queue = self._scripts.get(key)
            if queue:
                return queue.popleft()
            if key in self._always:
                return self._always[key]
            if key == BALANCE:
                return IakReply(200, {"balance": self.balance, "message": "SUCCESS", "rc": "00"})
            if key == PREPAID_PRICE_LIST:
                # As IAK's reference shows it: the list is `data` itself.
                return IakReply(200, items=list(self.prepaid_products))
            if key == POSTPAID_PRICE_LIST:
                return IakReply(200, {"pasca": list(self.postpaid_products)})
            if on_postpaid:
                ref_id = str(body.get("ref_id"))
                known_bill = self._bills.get(ref_id)
                if known_bill is not None:
                    return IakReply(200, known_bill)
                return IakReply(400, {**POSTPAID_NOT_FOUND, "ref_id": ref_id})
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
        data: object = reply.items if reply.items is not None else (reply.data or {})
        payload = json.dumps({"data": data}).encode()
        return Answer(reply.http_status, payload, delay=delay, drop=reply.drop)


def _key(path: str, body: dict[str, Any]) -> tuple[str | None, str | None]:
    """What a request is about (its scripting key) and the suffix its sign must use.

    (None, _) for a path IAK does not serve; (key, None) for a postpaid command it does
    not know.
    """
    ref_id = body.get("ref_id")
    ref_id = ref_id if isinstance(ref_id, str) else ""
    if path == "/api/check-status":
        return ref_id, ref_id
    if path == "/api/check-balance":
        return BALANCE, "bl"
    if path == "/api/pricelist" or path.startswith("/api/pricelist/"):
        return PREPAID_PRICE_LIST, "pl"
    if path.rstrip("/") == POSTPAID_PATH:
        command = body.get("commands")
        if command == "checkstatus":
            return postpaid(ref_id), "cs"
        if command == "pricelist-pasca":
            return POSTPAID_PRICE_LIST, "pl"
        return f"postpaid command {command}", None
    return None, None
