"""`POST /iak/callback` and `POST /transactions` as plain ASGI handlers, and what the OpenAPI
page says of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from bot.asgi import (
    Answer,
    ErrorAnswer,
    Receive,
    Scope,
    Send,
    headers_of,
    receive_body,
    send_json,
)
from bot.intake import MAX_BODY, CallbackBody, IngestBody, Intake, IntakeError, Stored
from bot.metrics import Metrics
from bot.shapes import Json


class StoredAnswer(BaseModel):
    """The observation is stored (or was already: IAK may stop retrying either way)."""

    ok: Literal[True] = True
    ref_id: str
    outcome: Literal["success", "failed", "pending", "unknown"] = Field(
        description="The transaction's outcome as now stored."
    )
    duplicate: bool = Field(description="The same observation had already been stored.")


def _inline_schema(model: type[BaseModel]) -> Json:
    """The model's JSON schema with its $defs inlined, for an OpenAPI requestBody."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].split("/")[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: Json = resolve(schema)
    return resolved


def _request_body(model: type[BaseModel]) -> Json:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline_schema(model)}},
        }
    }


def _errors(*statuses: int) -> dict[int | str, Json]:
    reasons = {
        400: "Malformed: not JSON, no data object, a missing ref_id, an unknown status.",
        401: "Authentication failed (nothing stored).",
        403: "The source address is not in CALLBACK_ALLOWED_IPS.",
        413: "Body over 64 KiB.",
        503: "Not configured, or the database is unavailable: retry later.",
    }
    return {status: {"model": ErrorAnswer, "description": reasons[status]} for status in statuses}


def _error(exc: IntakeError) -> Answer:
    headers = [(b"www-authenticate", b"Bearer")] if exc.status == 401 else []
    return exc.status, ErrorAnswer(error=exc.message).model_dump(), headers


def _stored(stored: Stored) -> Answer:
    # The StoredAnswer shape, built directly: this is the hot path of every callback.
    answer = {
        "ok": True,
        "ref_id": stored.ref_id,
        "outcome": stored.outcome.value,
        "duplicate": stored.duplicate,
    }
    return 200, answer, []


class IntakeHandlers:
    """`POST /iak/callback` and `POST /transactions` as plain ASGI handlers."""

    def __init__(self, intake: Intake, metrics: Metrics | None = None) -> None:
        self.intake = intake
        self.metrics = metrics
        self._count_callback = self._counter("callback")
        self._count_ingest = self._counter("ingest")

    async def callback(self, scope: Scope, receive: Receive, send: Send) -> None:
        """IAK's callback: see add_intake_routes for the documented contract."""
        client = scope.get("client")
        peer = client[0] if client else None

        def store(body: bytes, forwarded_for: str | None) -> Awaitable[Stored]:
            return self.intake.callback(body, peer=peer, forwarded_for=forwarded_for)

        def too_large(exc: IntakeError, forwarded_for: str | None) -> None:
            self.intake.refused(exc, peer, forwarded_for)

        await _answer_intake(
            scope, receive, send, b"x-forwarded-for", store, self._count_callback, too_large
        )

    async def ingest(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The merchant backend's forwarded answer: see add_intake_routes."""

        def store(body: bytes, authorization: str | None) -> Awaitable[Stored]:
            return self.intake.ingest(body, authorization=authorization)

        await _answer_intake(scope, receive, send, b"authorization", store, self._count_ingest)

    def _counter(self, route: str) -> Callable[[int, Stored | None], None] | None:
        metrics = self.metrics
        if metrics is None:
            return None

        def count(status: int, stored: Stored | None) -> None:
            if stored is None:
                metrics.intake_answered(route, status, None, None)
            else:
                metrics.intake_answered(route, status, stored.outcome, stored.rc)

        return count


async def _answer_intake(
    scope: Scope,
    receive: Receive,
    send: Send,
    header: bytes,
    store: Callable[[bytes, str | None], Awaitable[Stored]],
    count: Callable[[int, Stored | None], None] | None,
    too_large: Callable[[IntakeError, str | None], None] | None = None,
) -> None:
    """Read the body (up to 64 KiB), store it with the one header the route needs, answer.
    A body over the limit is refused unread, and told to `too_large` with that header."""
    headers = headers_of(scope, b"content-length", header)
    body = await receive_body(receive, headers[b"content-length"], MAX_BODY)
    stored: Stored | None = None
    if body is None:
        refusal = IntakeError(413, "body over 64 KiB")
        if too_large is not None:
            too_large(refusal, headers[header])
        answer = _error(refusal)
    else:
        try:
            stored = await store(body, headers[header])
            answer = _stored(stored)
        except IntakeError as exc:
            answer = _error(exc)
        except Exception:
            # uvicorn answers 500 and logs it; the metrics count it as that answer
            if count is not None:
                count(500, None)
            raise
    if count is not None:
        count(answer[0], stored)
    await send_json(send, answer)


# What the OpenAPI page says of each route (FastAPI's route options; bot.web declares them).
CALLBACK_DOCS: Json = {
    "summary": "IAK's callback with a transaction's final result",
    "description": "IAK calls this URL when a transaction succeeds or fails. "
    "`data.sign` must be md5(IAK_USERNAME + IAK_API_KEY + ref_id). Answers 200 "
    "once the result is stored durably, also for a duplicate, so IAK stops "
    "retrying.",
    "tags": ["intake"],
    "response_model": StoredAnswer,
    "responses": _errors(400, 401, 403, 413, 503),
    "openapi_extra": _request_body(CallbackBody),
}
INGEST_DOCS: Json = {
    "summary": "Forward IAK's answer to a top-up or check-status",
    "description": "The merchant backend forwards IAK's answer untouched "
    '(`{"data": {...}}`), optionally with `created_at`. This is how the bot '
    "learns about pending transactions: IAK never calls back while a top-up is "
    "processing. Needs `Authorization: Bearer $INGEST_TOKEN`.",
    "tags": ["intake"],
    "response_model": StoredAnswer,
    "responses": _errors(400, 401, 413, 503),
    "openapi_extra": _request_body(IngestBody),
}
