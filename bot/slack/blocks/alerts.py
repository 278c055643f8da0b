"""Alert messages: an incident's parent message and its thread replies, as Block Kit.

Pure: the incident (with its details) and the time in, a message out. The parent is always
rendered from the incident's current state, so a late or repeated edit shows the truth.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from bot.alerts.model import Incident, IncidentKind
from bot.masking import mask_customer_id
from bot.registry import Registry
from bot.slack.blocks.cards import STOPS_SALES, remediation_blocks
from bot.slack.blocks.charts import sparkline
from bot.slack.blocks.durations import duration
from bot.slack.blocks.text import (
    Block,
    Message,
    actions,
    button,
    context,
    escape,
    header,
    plain,
    rupiah,
    section,
    truncate,
)

WIB = timezone(timedelta(hours=7), "WIB")
MAX_LISTED = 20


def wib(moment: datetime) -> str:
    """`14:05 WIB`: ops work in Jakarta time."""
    return moment.astimezone(WIB).strftime("%H:%M WIB")


def wib_day(moment: datetime) -> str:
    """`28 Nov 14:05 WIB`."""
    return moment.astimezone(WIB).strftime("%d %b %H:%M WIB").lstrip("0")


def _for(seconds: float) -> str:
    """`2 h 5 min` for a number of seconds (payloads store seconds)."""
    return duration(timedelta(seconds=max(seconds, 0)))


def _customer(value: str | None, mask: bool) -> str:
    if not value:
        return "—"
    return mask_customer_id(value) if mask else escape(value)


def _status_context(incident: Incident, now: datetime) -> Block:
    parts = [f"Opened {wib_day(incident.opened_at)}"]
    if not incident.is_open and incident.resolved_at is not None:
        parts.append(f"resolved {wib_day(incident.resolved_at)}")
    if incident.acknowledged_by:
        parts.append(f":eyes: Acknowledged by <@{incident.acknowledged_by}>")
    if incident.muted(now) and incident.muted_until is not None:
        by = f" by <@{incident.muted_by}>" if incident.muted_by else ""
        parts.append(f":no_bell: muted until {wib(incident.muted_until)}{by}")
    return context(" · ".join(parts))


ACK_ACTION = "incident_ack"
MUTE_ACTION = "incident_mute"
RECHECK_NOW_ACTION = "incident_recheck"
MUTE_CHOICES = ((60, "1 h"), (240, "4 h"), (1440, "24 h"))


def parent_message(incident: Incident, now: datetime, registry: Registry, *, mask: bool) -> Message:
    """The incident's parent message, as its state is now (with its buttons while open)."""
    if incident.kind is IncidentKind.PENDING:
        message = _pending_parent(incident, now, mask=mask)
    elif incident.kind is IncidentKind.SPIKE:
        message = _spike_parent(incident, now, registry)
    else:
        message = _deposit_parent(incident, now, registry)
    message["blocks"].append(_status_context(incident, now))
    if incident.is_open:
        message["blocks"].append(incident_buttons(incident, now))
    return message


def incident_buttons(incident: Incident, now: datetime) -> Block:
    """Acknowledge, Mute (1 h / 4 h / 24 h, this rc's future incidents too; Unmute) and, for
    pending transactions, Recheck now. The value of each is the incident's id."""
    key = str(incident.id)
    elements: list[Block] = []
    if not incident.acknowledged_by:
        elements.append(button("Acknowledge", ACK_ACTION, key, style="primary"))
    if incident.kind is IncidentKind.PENDING:
        elements.append(button("Recheck now", RECHECK_NOW_ACTION, key))
    options = [_option(f"Mute for {label}", f"{key}:{minutes}") for minutes, label in MUTE_CHOICES]
    if incident.kind is IncidentKind.SPIKE:
        options.append(
            _option(f"Mute rc {incident.key} for 24 h, new incidents too", f"{key}:1440:all")
        )
    if incident.muted(now):
        options.insert(0, _option("Unmute", f"{key}:0"))
    elements.append(
        {
            "type": "static_select",
            "action_id": MUTE_ACTION,
            "placeholder": plain("Muted" if incident.muted(now) else "Mute…"),
            "options": options,
        }
    )
    return actions(*elements, block_id=f"incident_{key}")


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, 75), "value": value}


def _pending_parent(incident: Incident, now: datetime, *, mask: bool) -> Message:
    d = incident.details
    waiting, total = d.get("waiting", 0), d.get("total", 0)
    settled = f"{d.get('succeeded', 0)} succeeded · {d.get('failed', 0)} failed"
    if d.get("gave_up"):
        settled += f" · {d['gave_up']} no longer checked (24 h)"
    if incident.is_open:
        title = f":hourglass_flowing_sand: {waiting} top-up(s) pending too long"
        text = f"{waiting} top-ups have been pending too long ({total} in this incident)."
    else:
        title = f":white_check_mark: Resolved: {total} long-pending top-up(s) settled"
        text = f"Resolved: all {total} long-pending top-ups settled ({settled})."
    blocks: list[Block] = [header(title)]
    summary = f"*{waiting}* still pending of *{total}* · {settled}"
    blocks.append(section(summary))
    members = d.get("members", [])
    if incident.is_open and members:
        lines = []
        for member in members[:MAX_LISTED]:
            age = now - datetime.fromisoformat(member["first_seen_at"])
            lines.append(
                f"`{escape(member['ref_id'])}` · {escape(member.get('product_code') or '?')} · "
                f"{_customer(member.get('customer_id'), mask)} · "
                f"pending {duration(age)}"
            )
        more = waiting - len(lines)
        if more > 0:
            lines.append(f"_+{more} more_")
        blocks.append(section("\n".join(lines)))
        blocks.append(
            context(
                "Do not refund or resend these yet: IAK may still complete them. "
                "Outcomes follow in this thread; `/iak status <ref_id>` checks one now."
            )
        )
    return {"text": text, "blocks": blocks}


def _spike_parent(incident: Incident, now: datetime, registry: Registry) -> Message:
    d = incident.details
    rc = incident.key
    code = registry.rc(rc)
    name = f"{rc} {code.description}" if code else f"rc {rc}"
    window = _for(d.get("window_seconds", 300))
    count, total = d.get("count", 0), d.get("total", 0)
    if incident.is_open:
        if d.get("stops_sales"):
            title = f"{STOPS_SALES} {name}: sales are failing"
        else:
            title = f":chart_with_upwards_trend: {name}: {count} failures in {window}"
        text = f"{name}: {count} failures in the last {window} ({total} since it started)."
    else:
        lasted = duration((incident.resolved_at or now) - incident.opened_at)
        title = f":white_check_mark: Resolved: {name}"
        text = f"Resolved: {name}, lasted {lasted}, {total} failures in total."
    blocks: list[Block] = [header(truncate(title, 150))]
    expected = d.get("expected", 1)
    factor = count / expected if expected else 0
    lines = [
        f"*{count}* failures in the last {window} · usual ≈ {expected:g} per {window}"
        + (f" (*{factor:.0f}×*)" if factor >= 2 else ""),
        f"*{total}* since {wib(incident.opened_at)} · peak {d.get('peak', count)} per {window}",
    ]
    if not incident.is_open:
        lasted = duration((incident.resolved_at or now) - incident.opened_at)
        lines.insert(0, f"Lasted *{lasted}*, *{total}* failures in total.")
    products = d.get("products") or {}
    if products:
        lines.append(
            "Products: " + ", ".join(f"{escape(p)} ({n})" for p, n in list(products.items())[:5])
        )
    spark = d.get("sparkline") or []
    if spark:
        lines.append(f"Last hour: `{sparkline(spark)}` (per 5 min)")
    blocks.append(section("\n".join(lines)))
    if code is not None and incident.is_open:
        blocks.extend(remediation_blocks(code))
    return {"text": text, "blocks": blocks}


def _deposit_parent(incident: Incident, now: datetime, registry: Registry) -> Message:
    d = incident.details
    balance, threshold = d.get("balance"), d.get("threshold")
    if incident.is_open:
        title = f":moneybag: IAK deposit low: {rupiah(balance)}"
        text = f"IAK deposit low: {rupiah(balance)}, below {rupiah(threshold)}."
    else:
        title = f":white_check_mark: Resolved: IAK deposit back to {rupiah(balance)}"
        text = f"Resolved: IAK deposit back to {rupiah(balance)}."
    lines = [
        f"Balance *{rupiah(balance)}* · threshold {rupiah(threshold)} · "
        f"lowest {rupiah(d.get('lowest'))}"
    ]
    spend = d.get("spend_per_hour")
    if spend:
        left = d.get("hours_left")
        lasts = f", about *{_for(left * 3600)}* left at that rate" if left is not None else ""
        lines.append(f"Spending {rupiah(round(spend))} per hour over the last hour{lasts}.")
    else:
        lines.append("Not enough sales in the last hour to estimate the spend rate.")
    blocks: list[Block] = [header(title), section("\n".join(lines))]
    deposit = registry.rc("17")
    if incident.is_open and deposit is not None:
        links = " · ".join(f"<{link.url}|{escape(link.title)}>" for link in deposit.links)
        blocks.append(
            section(
                "When it runs out every sale fails with rc 17 (INSUFFICIENT DEPOSIT). "
                f"Top it up: {links}"
            )
        )
    return {"text": text, "blocks": blocks}


def reply_message(
    incident: Incident, payload: dict[str, Any], registry: Registry, *, mask: bool
) -> Message:
    """A thread reply for one queued payload."""
    kind = payload.get("type")
    if kind == "pending_joined":
        members = payload.get("members", [])
        lines = [
            f"`{escape(m['ref_id'])}` · {escape(m.get('product_code') or '?')} · "
            f"{_customer(m.get('customer_id'), mask)}"
            for m in members
        ]
        if payload.get("more"):
            lines.append(f"_+{payload['more']} more_")
        count = len(members) + payload.get("more", 0)
        text = f"{count} more top-up(s) pending too long; {payload.get('waiting')} waiting now."
        return {
            "text": text,
            "blocks": [section(f":hourglass_flowing_sand: {text}\n" + "\n".join(lines))],
        }
    if kind == "pending_outcomes":
        return _outcomes(payload, registry, mask=mask)
    if kind == "spike_update":
        text = (
            f"{payload.get('total')} failures since this started "
            f"(was {payload.get('previous_total')}); "
            f"{payload.get('count')} in the last window, usual ≈ {payload.get('expected'):g}."
        )
        return {"text": text, "blocks": [section(f":chart_with_upwards_trend: {text}")]}
    if kind == "deposit_update":
        left = payload.get("hours_left")
        lasts = f", about {_for(left * 3600)} left" if left is not None else ""
        text = (
            f"Deposit now {rupiah(payload.get('balance'))} "
            f"(was {rupiah(payload.get('previous'))}){lasts}."
        )
        return {"text": text, "blocks": [section(f":moneybag: {text}")]}
    if kind == "resolved":
        return _resolved(incident, payload)
    if kind == "note":
        text = str(payload.get("text", ""))
        return {"text": escape(text), "blocks": [section(escape(text))]}
    raise ValueError(f"unknown reply type {kind!r}")


def _outcomes(payload: dict[str, Any], registry: Registry, *, mask: bool) -> Message:
    items = payload.get("items", [])
    words = {
        "success": ":white_check_mark: succeeded",
        "failed": ":x: failed",
        "gave_up": ":zzz: still pending after 24 h: no longer checked",
    }
    lines = []
    failed_rcs: dict[str, int] = {}
    for item in items:
        rc = item.get("rc")
        suffix = f" (rc {escape(rc)})" if rc and item["outcome"] == "failed" else ""
        lines.append(
            f"`{escape(item['ref_id'])}` · {escape(item.get('product_code') or '?')} · "
            f"{_customer(item.get('customer_id'), mask)}: "
            f"{words.get(item['outcome'], item['outcome'])}{suffix}"
        )
        if item["outcome"] == "failed" and rc:
            failed_rcs[rc] = failed_rcs.get(rc, 0) + 1
    if payload.get("more"):
        lines.append(f"_+{payload['more']} more_")
    blocks: list[Block] = [section("\n".join(lines))]
    for rc, count in list(failed_rcs.items())[:5]:
        code = registry.rc(rc)
        if code is not None:
            blocks.append(
                section(
                    f"*{rc} {escape(code.description)}* ({count}): *{code.action.label}* "
                    f"({code.owner.label}). {escape(code.advice)}"
                )
            )
    done = len(items) + payload.get("more", 0)
    text = f"{done} long-pending top-up(s) settled."
    return {"text": text, "blocks": blocks}


def _resolved(incident: Incident, payload: dict[str, Any]) -> Message:
    lasted = _for(payload.get("duration_seconds", 0))
    if incident.kind is IncidentKind.PENDING:
        text = f"Resolved after {lasted}: all {payload.get('total')} long-pending top-ups settled."
    elif incident.kind is IncidentKind.SPIKE:
        text = (
            f"Resolved after {lasted}: rc {incident.key} is back to normal; "
            f"{payload.get('total')} failures in total."
        )
    else:
        text = f"Resolved after {lasted}: the deposit is back to {rupiah(payload.get('balance'))}."
    return {"text": text, "blocks": [section(f":white_check_mark: {text}")]}
