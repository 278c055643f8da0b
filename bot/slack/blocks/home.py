"""The App Home dashboard: open incidents, pending transactions by age, failures per rc over
the last 24 h, the deposit, and the monitor's health. Pure; always under 100 blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.clock import wib_moment, wib_time
from bot.health import HealthReport
from bot.i18n import _, ngettext
from bot.incidents.model import Incident
from bot.outcomes import split_code_key
from bot.registry import Registry
from bot.slack.alerts.kinds import renderer
from bot.slack.blocks.access import REFUSED_TEXT
from bot.slack.blocks.charts import bar
from bot.slack.blocks.durations import duration
from bot.slack.blocks.markup import Mrkdwn, join, link, md, mention, permalink
from bot.slack.blocks.text import Block, context, divider, header, number, rupiah, section

MAX_INCIDENTS = 15
MAX_CODES = 10


@dataclass(frozen=True)
class HomeSnapshot:
    """What the dashboard shows, read from the store."""

    now: datetime
    incidents: list[Incident] = field(default_factory=list)
    pending_by_age: list[tuple[str, int]] = field(default_factory=list)  # (band, count)
    failures_24h: dict[str, int] = field(default_factory=dict)  # code key -> count
    balance: int | None = None
    balance_at: datetime | None = None
    low_balance_threshold: int | None = None
    health: HealthReport | None = None


def home_view(snapshot: HomeSnapshot, registry: Registry) -> Block:
    """The Home tab view for someone allowed to see transaction data."""
    blocks: list[Block] = [
        header(_("IAK bot: the state of top-ups")),
        context(
            _("As of {when} · reopen the tab to refresh").format(when=wib_moment(snapshot.now))
        ),
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


def home_refused() -> Block:
    """The Home tab for someone ALLOWED_USERS leaves out: no data at all."""
    return {
        "type": "home",
        "blocks": [
            header("IAK bot"),
            section(":lock: " + _(REFUSED_TEXT)),
        ],
    }


def _incidents(snapshot: HomeSnapshot, registry: Registry) -> str:
    open_ = snapshot.incidents
    if not open_:
        return "*{}*\n:white_check_mark: {}".format(_("Open incidents"), _("None. All quiet."))
    lines = [md("*{}* ({})", _("Open incidents"), len(open_))]
    for incident in open_[:MAX_INCIDENTS]:
        kind = renderer(incident.kind)
        title: str = kind.title(incident, registry)
        if incident.channel and incident.parent_ts:
            title = link(permalink(incident.channel, incident.parent_ts), title)
        extra: list[Mrkdwn] = []
        if incident.acknowledged_by:
            extra.append(
                md(_("acknowledged by {person}"), person=mention(incident.acknowledged_by))
            )
        if incident.muted(snapshot.now) and incident.muted_until:
            extra.append(md(_("muted until {time}"), time=wib_time(incident.muted_until)))
        age = duration(snapshot.now - incident.opened_at)
        line = md("{} " + _("{title} · open {age}"), kind.emoji, title=title, age=age)
        lines.append(md("{} · {}", line, join(extra, ", ")) if extra else line)
    if len(open_) > MAX_INCIDENTS:
        more = _("+{count} more in the ops channel").format(count=len(open_) - MAX_INCIDENTS)
        lines.append(md("_{}_", more))
    return join(lines)


def _pending(snapshot: HomeSnapshot) -> str:
    total = sum(count for __, count in snapshot.pending_by_age)
    if total == 0:
        return "*{}*\n{}".format(_("Pending transactions"), _("None."))
    peak = max(count for __, count in snapshot.pending_by_age)
    lines = ["*{}* ({})".format(_("Pending transactions"), number(total))]
    for band, count in snapshot.pending_by_age:
        lines.append(f"`{bar(count, peak, width=16):<16}` {count:>6}  {_(band)}")
    return "\n".join(lines)


def _failures(snapshot: HomeSnapshot, registry: Registry) -> str:
    ranked = sorted(snapshot.failures_24h.items(), key=lambda item: -item[1])
    if not ranked:
        return "*{}*\n{}".format(_("Failures by code, last 24 h"), _("None."))
    peak = ranked[0][1]
    lines = [
        "*{}* ({})".format(_("Failures by code, last 24 h"), number(sum(n for __, n in ranked)))
    ]
    for rc, count in ranked[:MAX_CODES]:
        line, code_rc = split_code_key(rc)  # `postpaid 06` is postpaid's row
        code = registry.rc(code_rc, line=line)
        name = code.description if code else _("unknown code")
        lines.append(f"`{bar(count, peak, width=16):<16}` {count:>6}  `{rc}` {name}")
    if len(ranked) > MAX_CODES:
        more = _("+{count} more codes").format(count=len(ranked) - MAX_CODES)
        lines.append("_{}_ · {}".format(more, _("`/iak stats 24h` for all")))
    return "\n".join(lines)


def _deposit(snapshot: HomeSnapshot) -> str:
    if snapshot.balance is None or snapshot.balance_at is None:
        return "*{}*\n{}".format(
            _("IAK deposit"), _("No balance reported yet (`/iak balance` asks IAK).")
        )
    low = snapshot.low_balance_threshold
    below = low is not None and snapshot.balance < low
    warning = " :warning: " + _("below the threshold") if below else ""
    ago = duration(snapshot.now - snapshot.balance_at)
    reported = _("reported {ago} ago").format(ago=ago)
    return "*{}*\n{}{} · {}".format(_("IAK deposit"), rupiah(snapshot.balance), warning, reported)


def _monitor(snapshot: HomeSnapshot) -> str:
    health = snapshot.health
    parts = []
    if health is None or not health.monitor.enabled:
        parts.append(":white_circle: " + _("monitor off in this process"))
    leader = health.monitor.leader if health else None
    if leader:
        parts.append(_("leader {leader}").format(leader=f"`{leader}`"))
    else:
        parts.append(":red_circle: " + _("no monitor leader"))
    age = health.monitor.last_tick_age_seconds if health else None
    if age is not None:
        parts.append(_("last tick {seconds} s ago").format(seconds=f"{age:.0f}"))
    backlog = health.outbox.backlog if health else 0
    errors = health.slack_errors if health else {}
    parts.append(
        ngettext(
            "{count} alert waiting to be sent", "{count} alerts waiting to be sent", backlog
        ).format(count=backlog)
    )
    for channel, error in errors.items():
        parts.append(
            ":red_circle: "
            + _("alerts to {channel} stopped: {error}").format(channel=channel, error=f"`{error}`")
        )
    return _("Monitor: {parts}").format(parts=" · ".join(parts))
