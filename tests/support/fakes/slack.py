"""A loopback fake of Slack's Web API and of `response_url`, recording every call.

The bot under test points SLACK_API_URL at `api_url`, so the real slack_sdk builds
real requests. Tests can script answers per method: 429 with Retry-After, `ok: false`
errors, 5xx, or the whole service down.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from tests.support.fakes.loopback import Answer, LoopbackServer

RESPONSE_URL_METHOD = "response_url"
# Where a file's bytes go: the upload_url files.getUploadURLExternal hands out.
UPLOAD_METHOD = "upload_url"
# How an app ends a workflow step's execution.
STEP_END_METHODS = ("functions.completeSuccess", "functions.completeError")


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    method: str
    args: dict[str, Any]
    path: str
    headers: dict[str, str]
    at: float
    # what the fake answered (filled in after the call is recorded)
    answer: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """A scripted answer: HTTP status, JSON body and headers."""

    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeSlack(LoopbackServer):
    """Slack's Web API on 127.0.0.1 with a free port; use as a context manager."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []
        # Every Web API answer is delayed this long (a slow Slack).
        self.delay = 0.0
        self._scripts: dict[str, deque[Reply]] = {}
        # (method, text it contains, answer): a message Slack keeps refusing, every time
        self._poisons: list[tuple[str, str, Reply]] = []
        self._down: str | None = None
        self._ts = 0
        self._files = 0
        # Each person's Slack locale, as users.info reports it (en-US unless set).
        self.locales: dict[str, str] = {}
        # Each person's workspace, as users.info reports it (T0TEAM unless set).
        self.teams: dict[str, str] = {}

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL should be."""
        return f"{self.base_url}/api/"

    def response_url(self, key: str = "r1") -> str:
        """A `response_url` whose posts are recorded under `key`."""
        return f"{self.base_url}/response/{key}"

    # Scripting -----------------------------------------------------------------
    def script(self, method: str, *replies: Reply) -> None:
        """Answer the next calls of `method` with these replies, in order."""
        with self._lock:
            self._scripts.setdefault(method, deque()).extend(replies)

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 and Retry-After."""
        reply = Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
        self.script(method, *[reply] * times)

    def fail(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with `ok: false` and `error`."""
        self.script(method, *[Reply(200, {"ok": False, "error": error})] * times)

    def refuse_messages(self, method: str, containing: str, error: str) -> None:
        """Answer every call of `method` whose text contains `containing` with `ok: false`
        and `error`, for ever (a message Slack never takes)."""
        with self._lock:
            self._poisons.append((method, containing, Reply(200, {"ok": False, "error": error})))

    def set_team(self, user_id: str, team_id: str) -> None:
        """The workspace users.info says this person belongs to (T0TEAM, the bot's, unless
        set): a Slack Connect guest's is another."""
        with self._lock:
            self.teams[user_id] = team_id

    def set_locale(self, user_id: str, locale: str) -> None:
        """What users.info answers as this person's locale (`id-ID`, `en-US`, `ja-JP`)."""
        with self._lock:
            self.locales[user_id] = locale

    def set_down(self, mode: str | None = "503") -> None:
        """Make every call fail: "503" answers 503, "reset" drops the connection; None heals."""
        with self._lock:
            self._down = mode

    # Inspection ----------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        """Every recorded call of `method` (a Web API method or `response_url`)."""
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def responses(self, key: str = "r1") -> list[dict[str, Any]]:
        """Every payload posted to `response_url(key)`."""
        with self._lock:
            return [
                call.args
                for call in self.calls
                if call.method == RESPONSE_URL_METHOD and call.path.endswith(f"/{key}")
            ]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until `method` has been called `count` times; fail the test otherwise."""

        def found() -> list[Call] | None:
            calls = [call for call in self.calls if call.method == method]
            return calls if len(calls) >= count else None

        return self._wait_for(
            found, timeout, f"expected {count} call(s) to {method} within {timeout}s"
        )

    def wait_for_response(
        self, key: str = "r1", count: int = 1, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Block until `count` payloads reached `response_url(key)`."""

        def found() -> list[dict[str, Any]] | None:
            posted = [
                call.args
                for call in self.calls
                if call.method == RESPONSE_URL_METHOD and call.path.endswith(f"/{key}")
            ]
            return posted if len(posted) >= count else None

        return self._wait_for(found, timeout, f"expected {count} response(s) at {key}")

    def wait_for_step_end(self, execution_id: str, timeout: float = 5.0) -> Call:
        """Block until the workflow step execution `execution_id` was ended (by
        functions.completeSuccess or functions.completeError); that call."""

        def found() -> Call | None:
            for call in self.calls:
                if (
                    call.method in STEP_END_METHODS
                    and call.args.get("function_execution_id") == execution_id
                ):
                    return call
            return None

        return self._wait_for(found, timeout, f"step execution {execution_id} never ended")

    # Serving -------------------------------------------------------------------
    def _answer(self, method: str, args: dict[str, Any]) -> Reply:
        with self._lock:
            if self._down == "503":
                return Reply(503, {"ok": False, "error": "service_unavailable"})
            text = str(args.get("text") or "")
            for poisoned, containing, reply in self._poisons:
                if poisoned == method and containing in text:
                    return reply
            queue = self._scripts.get(method)
            if queue:
                return queue.popleft()
            if method in (RESPONSE_URL_METHOD, UPLOAD_METHOD):
                return Reply(200, None)
            return Reply(200, self._default(method, args))

    def _default(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T0TEAM"}
        if method == "chat.postMessage":
            self._ts += 1
            ts = f"1700000000.{self._ts:06d}"
            return {"ok": True, "channel": args.get("channel"), "ts": ts, "message": args}
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "files.getUploadURLExternal":
            self._files += 1
            file_id = f"F{self._files:08d}"
            return {"ok": True, "upload_url": self.upload_url(file_id), "file_id": file_id}
        if method == "files.completeUploadExternal":
            return {"ok": True, "files": args.get("files", [])}
        if method == "users.info":
            return self._user(args)
        if method in STEP_END_METHODS:
            return self._step_end(method, args)
        return {"ok": True}

    def _step_end(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """How Slack answers the end of a workflow step: the execution's id, and the outputs
        (an object) or the error (text) that end it."""
        if not args.get("function_execution_id"):
            return {"ok": False, "error": "invalid_arguments"}
        if method == "functions.completeSuccess" and not isinstance(args.get("outputs"), dict):
            return {"ok": False, "error": "invalid_arguments"}
        if method == "functions.completeError" and not args.get("error"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}

    def upload_url(self, file_id: str) -> str:
        """The upload URL handed out for `file_id`."""
        return f"{self.base_url}/upload/{file_id}"

    def uploads(self) -> list[Call]:
        """Every upload of a file's bytes (`args["content"]`), whatever was answered."""
        return self.calls_to(UPLOAD_METHOD)

    def _user(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = str(args.get("user", ""))
        if not user_id:
            return {"ok": False, "error": "user_not_found"}
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": self.teams.get(user_id, "T0TEAM"),
            "name": user_id.lower(),
            "tz": "Asia/Jakarta",
        }
        # Like Slack, the locale only when asked for it.
        if str(args.get("include_locale", "")).lower() in ("1", "true"):
            user["locale"] = self.locales.get(user_id, "en-US")
        return {"ok": True, "user": user}

    def answer(self, path: str, raw: bytes, headers: dict[str, str], client_port: int) -> Answer:
        if path.startswith("/upload/"):
            method = UPLOAD_METHOD
        elif path.startswith("/response/"):
            method = RESPONSE_URL_METHOD
        elif path.startswith("/api/"):
            method = path[len("/api/") :].split("?")[0]
        else:
            return Answer(404, b"Not Found", "text/plain")
        if method == UPLOAD_METHOD:
            args: dict[str, Any] = {"file_id": path.rsplit("/", 1)[-1], "content": raw}
        else:
            args = _parse(raw.decode("utf-8"), headers.get("Content-Type", ""))
            # slack_sdk sends some methods' arguments in the query string
            args.update(_parse(path.partition("?")[2], ""))
        with self._lock:
            if self._down == "reset":
                return Answer(drop=True)
            call = Call(method, args, path, headers, time.monotonic())
            self.calls.append(call)
            self._changed()
        reply = self._answer(method, args)
        call.answer.update(reply.body or {})
        call.answer["_status"] = reply.status
        delay = reply.delay + (self.delay if method != RESPONSE_URL_METHOD else 0.0)
        if reply.body is None:
            return Answer(reply.status, b"ok", "text/plain", reply.headers, delay)
        body = json.dumps(reply.body).encode()
        return Answer(reply.status, body, "application/json", reply.headers, delay)


def _parse(raw: str, content_type: str) -> dict[str, Any]:
    if "json" in content_type:
        parsed = json.loads(raw or "{}")
        return parsed if isinstance(parsed, dict) else {"_": parsed}
    args: dict[str, Any] = dict(parse_qsl(raw, keep_blank_values=True))
    for key in ("blocks", "attachments", "view", "metadata", "files", "outputs"):
        if isinstance(args.get(key), str):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(args[key])
    return args
