"""How the incidents' domain types are stored in JSON columns (`incidents.details`,
`outbox.payload`)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from bot.incidents.kinds import details_type, reply_types
from bot.incidents.model import (
    Details,
    IncidentKind,
    Intent,
    OutboxAction,
    PostParent,
    Reply,
    ThreadReply,
    UpdateParent,
)
from bot.shapes import Json

_ADAPTERS: dict[type[object], TypeAdapter[Any]] = {}


def _adapter(kind: type[object]) -> TypeAdapter[Any]:
    """The (de)serialiser of one domain type, built once: building one is slow."""
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return adapter


def encode_details(details: Details) -> Json:
    """An incident's figures as stored in `incidents.details`."""
    encoded: Json = _adapter(type(details)).dump_python(details, mode="json")
    return encoded


def decode_details(kind: IncidentKind, stored: Json | None) -> Details:
    """The figures of an incident of `kind`, from `incidents.details`."""
    stored = dict(stored or {})
    if kind is IncidentKind.PENDING:
        # Written before a member's time was when it happened, not when it was first seen.
        stored["members"] = [
            {"started_at": member.get("first_seen_at"), **member}
            for member in stored.get("members", [])
        ]
    details: Details = _adapter(details_type(kind)).validate_python(stored)
    return details


def encode_intent(intent: Intent) -> Json:
    """An intent as stored in `outbox.payload`: a reply's kind, broadcast flag and fields."""
    if not isinstance(intent, ThreadReply):
        return {}
    reply = intent.reply
    fields = _adapter(type(reply)).dump_python(reply, mode="json")
    return {"type": reply.kind, "broadcast": intent.broadcast, **fields}


def decode_intent(action: OutboxAction, payload: object) -> Intent:
    """The intent an outbox row stands for; ValueError or ValidationError if unreadable."""
    if action is OutboxAction.POST_PARENT:
        return PostParent()
    if action is OutboxAction.UPDATE_PARENT:
        return UpdateParent()
    if not isinstance(payload, dict):
        raise ValueError("a reply's payload must be an object")
    fields = dict(payload)
    name = fields.pop("type", None)
    reply_type = reply_types().get(str(name))
    if reply_type is None:
        raise ValueError(f"unknown reply type {name!r}")
    broadcast = bool(fields.pop("broadcast", False))
    reply: Reply = _adapter(reply_type).validate_python(fields)
    return ThreadReply(reply, broadcast=broadcast)
