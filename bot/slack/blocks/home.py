"""The App Home dashboard: open incidents, pending transactions by age, failures per rc over
the last 24 h, the deposit, and the monitor's health. Pure; always under 100 blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.alerts.model import (
    CallbackDetails,
    ConflictDetails,
    DepositDetails,
    Incident,
    IncidentKind,
    PendingDetails,
    SpikeDetails,
)
from bot.registry import Registry
from bot.slack.blocks.access import REFUSED_TEXT
from bot.slack.blocks.alerts import callbacks_title, wib, wib_day
from bot.slack.blocks.charts import bar
from bot.slack.blocks.durations import duration
from bot.slack.blocks.markup import Mrkdwn, join, link, md, mention
from bot.slack.blocks.text import Block, context, divider, header, rupiah, section

MAX_INCIDENTS = 15
MAX_CODES = 10
KIND_EMOJI = {
    IncidentKind.PENDING: ":hourglass_flowing_sand:",
    IncidentKind.SPIKE: ":rotating_light:",
    IncidentKind.DEPOSIT: ":moneybag:",
    IncidentKind.CONFLICT: ":warning:",
    IncidentKind.CALLBACKS: ":satellite_antenna:",
}


@dataclass(frozen=True)
class HomeSnapshot:
    """What the dashboard shows, read from the store."""

    now: datetime
    incidents: list[Incident] = field(default_factory=list)
    pending_by_age: list[tuple[str, int]] = field(default_factory=list)  # (band, count)
    failures_24h: dict[str, int] = field(default_factory=dict)  # rc -> count
    balance: int | None = None
    balance_at: datetime | None = None
    low_balance_threshold: int | None = None
    health: dict[str, Any] = field(default_factory=dict)


def permalink(channel: str, ts: str) -> str:
    """A link to a message (its thread opens from it)."""
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


def home_view(snapshot: HomeSnapshot, registry: Registry) -> dict[str, Any]:
    """The Home tab view for someone allowed to see transaction data."""
    blocks: list[Block] = [
        header("IAK bot: the state of top-ups"),
        context(f"As of {wib_day(snapshot.now)} · reopen the tab to refresh"),
        divider(),
        section(_incidents(snapshot, registry)),
        divider(),
        section(_pending(snapshot)),
        section(_failures(snapshot, registry)),
        divider(),
        section(_deposit(snapshot)),
        context(_monitor(snapshot)),
    ]
    return {"type": "home", "blocks": blocks}


def home_refused() -> dict[str, Any]:
    """The Home tab for someone ALLOWED_USERS leaves out: no data at all."""
    return {
        "type": "home",
        "blocks": [
            header("IAK bot"),
            section(f":lock: {REFUSED_TEXT}"),
        ],
    }


def _incidents(snapshot: HomeSnapshot, registry: Registry) -> str:
    open_ = snapshot.incidents
    if not open_:
        return "*Open incidents*\n:white_check_mark: None. All quiet."
    lines = [md("*Open incidents* ({})", len(open_))]
    for incident in open_[:MAX_INCIDENTS]:
        title: str = _title(incident, registry)
        if incident.channel and incident.parent_ts:
            title = link(permalink(incident.channel, incident.parent_ts), title)
        extra: list[Mrkdwn] = []
        if incident.acknowledged_by:
            extra.append(md("acknowledged by {}", mention(incident.acknowledged_by)))
        if incident.muted(snapshot.now) and incident.muted_until:
            extra.append(md("muted until {}", wib(incident.muted_until)))
        age = duration(snapshot.now - incident.opened_at)
        line = md("{} {} · open {}", KIND_EMOJI[incident.kind], title, age)
        lines.append(md("{} · {}", line, join(extra, ", ")) if extra else line)
    if len(open_) > MAX_INCIDENTS:
        lines.append(md("_+{} more in the ops channel_", len(open_) - MAX_INCIDENTS))
    return join(lines)


def _title(incident: Incident, registry: Registry) -> str:
    details = incident.details
    match details:
        case PendingDetails():
            return f"{details.waiting} top-up(s) pending too long"
        case SpikeDetails():
            code = registry.rc(incident.key)
            name = f"{incident.key} {code.description}" if code else f"rc {incident.key}"
            return f"{name}: {details.total} failures"
        case DepositDetails():
            return f"IAK deposit low: {rupiah(details.balance)}"
        case ConflictDetails():
            return f"Conflicting outcomes for {details.ref_id}"
        case CallbackDetails():
            return callbacks_title(details)


def _pending(snapshot: HomeSnapshot) -> str:
    total = sum(count for _, count in snapshot.pending_by_age)
    if total == 0:
        return "*Pending transactions*\nNone."
    peak = max(count for _, count in snapshot.pending_by_age)
    lines = [f"*Pending transactions* ({total})"]
    for band, count in snapshot.pending_by_age:
        lines.append(f"`{bar(count, peak, width=16):<16}` {count:>6}  {band}")
    return "\n".join(lines)


def _failures(snapshot: HomeSnapshot, registry: Registry) -> str:
    ranked = sorted(snapshot.failures_24h.items(), key=lambda item: -item[1])
    if not ranked:
        return "*Failures by code, last 24 h*\nNone."
    peak = ranked[0][1]
    lines = [f"*Failures by code, last 24 h* ({sum(n for _, n in ranked)})"]
    for rc, count in ranked[:MAX_CODES]:
        code = registry.rc(rc)
        name = code.description if code else "unknown code"
        lines.append(f"`{bar(count, peak, width=16):<16}` {count:>6}  `{rc}` {name}")
    if len(ranked) > MAX_CODES:
        lines.append(f"_+{len(ranked) - MAX_CODES} more codes_ · `/iak stats 24h` for all")
    return "\n".join(lines)


def _deposit(snapshot: HomeSnapshot) -> str:
    if snapshot.balance is None or snapshot.balance_at is None:
        return "*IAK deposit*\nNo balance reported yet (`/iak balance` asks IAK)."
    low = snapshot.low_balance_threshold
    warning = " :warning: below the threshold" if low is not None and snapshot.balance < low else ""
    ago = duration(snapshot.now - snapshot.balance_at)
    return f"*IAK deposit*\n{rupiah(snapshot.balance)}{warning} · reported {ago} ago"


def _monitor(snapshot: HomeSnapshot) -> str:
    monitor = snapshot.health.get("monitor") or {}
    outbox = snapshot.health.get("outbox") or {}
    errors = snapshot.health.get("slack_errors") or {}
    parts = []
    if not monitor.get("enabled"):
        parts.append(":white_circle: monitor off in this process")
    leader = monitor.get("leader")
    parts.append(f"leader `{leader}`" if leader else ":red_circle: no monitor leader")
    age = monitor.get("last_tick_age_seconds")
    if age is not None:
        parts.append(f"last tick {age:.0f} s ago")
    backlog = outbox.get("backlog", 0)
    parts.append(f"{backlog} alert(s) waiting to be sent")
    for channel, error in errors.items():
        parts.append(f":red_circle: alerts to {channel} stopped: `{error}`")
    return "Monitor: " + " · ".join(parts)
