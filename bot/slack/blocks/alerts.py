"""Alert messages: an incident's parent message and its thread replies, as Block Kit.

Pure: the incident (with its typed figures) and the time in, a message out. The parent is
always rendered from the incident's current state, so a late or repeated edit shows the
truth. This is the only code that knows how an alert looks.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from bot.alerts.model import (
    Acknowledged,
    CallbackDetails,
    CallbackProblem,
    ConflictDetails,
    ConflictSettled,
    DepositDetails,
    DepositUpdate,
    Escalated,
    Incident,
    IncidentKind,
    Intent,
    Member,
    MuteEnded,
    PendingDetails,
    PendingJoined,
    PendingOutcomes,
    Rechecked,
    RefusedCallbacks,
    Reminder,
    Reply,
    Resolved,
    Settlement,
    SpikeDetails,
    SpikeUpdate,
    ThreadReply,
    stops_sales,
)
from bot.i18n import _, ngettext
from bot.masking import mask_customer_id
from bot.outcomes import Outcome, Refusal, Source
from bot.registry import Registry
from bot.slack.blocks.cards import STOPS_SALES, remediation_blocks
from bot.slack.blocks.charts import sparkline
from bot.slack.blocks.durations import duration
from bot.slack.blocks.markup import Mrkdwn, join, link, md, mention, mentions
from bot.slack.blocks.text import (
    Block,
    Message,
    actions,
    button,
    context,
    header,
    message,
    plain,
    rupiah,
    section,
    truncate,
)

WIB = timezone(timedelta(hours=7), "WIB")


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
    return mask_customer_id(value) if mask else value


def _status_context(incident: Incident, now: datetime) -> Block:
    parts = [md("Opened {}", wib_day(incident.opened_at))]
    if not incident.is_open and incident.resolved_at is not None:
        parts.append(md("resolved {}", wib_day(incident.resolved_at)))
    if incident.acknowledged_by:
        parts.append(md(":eyes: Acknowledged by {}", mention(incident.acknowledged_by)))
    if incident.muted(now) and incident.muted_until is not None:
        by = md(" by {}", mention(incident.muted_by)) if incident.muted_by else ""
        parts.append(md(":no_bell: muted until {}{}", wib(incident.muted_until), by))
    return context(join(parts, " · "))


ACK_ACTION = "incident_ack"
MUTE_ACTION = "incident_mute"
RECHECK_NOW_ACTION = "incident_recheck"
MUTE_CHOICES = ((60, "1 h"), (240, "4 h"), (1440, "24 h"))


def alert_message(
    intent: Intent,
    incident: Incident,
    now: datetime,
    registry: Registry,
    *,
    mask: bool,
    oncall: tuple[str, ...] = (),
) -> Message:
    """What an outbox row says: a thread reply, or the parent as the incident stands now.
    `oncall` (ONCALL_MENTION) is mentioned in escalations and in the parents of open
    incidents that stop all sales."""
    if isinstance(intent, ThreadReply):
        return reply_message(incident, intent.reply, registry, mask=mask, oncall=oncall)
    return parent_message(incident, now, registry, mask=mask, oncall=oncall)


def parent_message(
    incident: Incident,
    now: datetime,
    registry: Registry,
    *,
    mask: bool,
    oncall: tuple[str, ...] = (),
) -> Message:
    """The incident's parent message, as its state is now (with its buttons while open)."""
    details = incident.details
    match details:
        case PendingDetails():
            message = _pending_parent(incident, details, now, mask=mask)
        case SpikeDetails():
            message = _spike_parent(incident, details, now, registry)
        case DepositDetails():
            message = _deposit_parent(incident, details, registry)
        case ConflictDetails():
            message = _conflict_parent(incident, details, mask=mask)
        case CallbackDetails():
            message = _callbacks_parent(incident, details)
    if oncall and incident.is_open and stops_sales(details):
        who = mentions(oncall)
        message["text"] = md("{} {}", who, message["text"])
        told = md(_("{who}: every sale fails while this lasts."), who=who)
        message["blocks"].insert(1, section(told))
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


def _member_line(member: Member, mask: bool) -> Mrkdwn:
    return md(
        "`{}` · {} · {}",
        member.ref_id,
        member.product_code or "?",
        _customer(member.customer_id, mask),
    )


def _pending_parent(incident: Incident, d: PendingDetails, now: datetime, *, mask: bool) -> Message:
    settled = f"{d.succeeded} succeeded · {d.failed} failed"
    if d.gave_up:
        settled += f" · {d.gave_up} no longer checked (24 h)"
    if incident.is_open:
        title = f":hourglass_flowing_sand: {d.waiting} top-up(s) pending too long"
        text = f"{d.waiting} top-ups have been pending too long ({d.total} in this incident)."
    else:
        title = f":white_check_mark: Resolved: {d.total} long-pending top-up(s) settled"
        text = f"Resolved: all {d.total} long-pending top-ups settled ({settled})."
    blocks: list[Block] = [header(title)]
    blocks.append(section(f"*{d.waiting}* still pending of *{d.total}* · {settled}"))
    if incident.is_open and d.members:
        lines = [
            md("{} · pending {}", _member_line(member, mask), duration(now - member.started_at))
            for member in d.members
        ]
        more = d.waiting - len(lines)
        if more > 0:
            lines.append(md("_+{} more_", more))
        blocks.append(section(join(lines)))
        blocks.append(
            context(
                "Do not refund or resend these yet: IAK may still complete them. "
                "Outcomes follow in this thread; `/iak status <ref_id>` checks one now."
            )
        )
    return message(text, blocks)


def _spike_parent(
    incident: Incident, d: SpikeDetails, now: datetime, registry: Registry
) -> Message:
    rc = incident.key
    code = registry.rc(rc)
    name = f"{rc} {code.description}" if code else f"rc {rc}"
    window = _for(d.window_seconds)
    if incident.is_open:
        if d.stops_sales:
            title = f"{STOPS_SALES} {name}: sales are failing"
        else:
            title = f":chart_with_upwards_trend: {name}: {d.count} failures in {window}"
        text = f"{name}: {d.count} failures in the last {window} ({d.total} since it started)."
    else:
        lasted = duration((incident.resolved_at or now) - incident.opened_at)
        title = f":white_check_mark: Resolved: {name}"
        text = f"Resolved: {name}, lasted {lasted}, {d.total} failures in total."
    blocks: list[Block] = [header(truncate(title, 150))]
    factor = d.count / d.expected if d.expected else 0
    lines = [
        f"*{d.count}* failures in the last {window} · usual ≈ {d.expected:g} per {window}"
        + (f" (*{factor:.0f}×*)" if factor >= 2 else ""),
        f"*{d.total}* since {wib(incident.opened_at)} · peak {d.peak} per {window}",
    ]
    if not incident.is_open:
        lasted = duration((incident.resolved_at or now) - incident.opened_at)
        lines.insert(0, f"Lasted *{lasted}*, *{d.total}* failures in total.")
    if d.products:
        shown = list(d.products.items())[:5]
        lines.append("Products: " + ", ".join(f"{p} ({n})" for p, n in shown))
    if d.sparkline:
        lines.append(f"Last hour: `{sparkline(d.sparkline)}` (per 5 min)")
    blocks.append(section(join(lines)))
    if code is not None and incident.is_open:
        blocks.extend(remediation_blocks(code))
    return message(text, blocks)


def _deposit_parent(incident: Incident, d: DepositDetails, registry: Registry) -> Message:
    if incident.is_open:
        title = f":moneybag: IAK deposit low: {rupiah(d.balance)}"
        text = f"IAK deposit low: {rupiah(d.balance)}, below {rupiah(d.threshold)}."
    else:
        title = f":white_check_mark: Resolved: IAK deposit back to {rupiah(d.balance)}"
        text = f"Resolved: IAK deposit back to {rupiah(d.balance)}."
    lines = [
        f"Balance *{rupiah(d.balance)}* · threshold {rupiah(d.threshold)} · "
        f"lowest {rupiah(d.lowest)}"
    ]
    if d.spend_per_hour:
        left = d.hours_left
        lasts = f", about *{_for(left * 3600)}* left at that rate" if left is not None else ""
        lines.append(
            f"Spending {rupiah(round(d.spend_per_hour))} per hour over the last hour{lasts}."
        )
    else:
        lines.append("Not enough sales in the last hour to estimate the spend rate.")
    blocks: list[Block] = [header(title), section(join(lines))]
    deposit = registry.rc("17")
    if incident.is_open and deposit is not None:
        links = join((link(page.url, page.title) for page in deposit.links), " · ")
        blocks.append(
            section(
                md(
                    "When it runs out every sale fails with rc 17 (INSUFFICIENT DEPOSIT). "
                    "Top it up: {}",
                    links,
                )
            )
        )
    return message(text, blocks)


def reply_message(
    incident: Incident,
    reply: Reply,
    registry: Registry,
    *,
    mask: bool,
    oncall: tuple[str, ...] = (),
) -> Message:
    """A thread reply."""
    match reply:
        case Escalated() | Reminder() | MuteEnded():
            return _follow_up(incident, reply, oncall)
        case PendingJoined():
            lines = [_member_line(member, mask) for member in reply.members]
            if reply.more:
                lines.append(md("_+{} more_", reply.more))
            count = len(reply.members) + reply.more
            text = f"{count} more top-up(s) pending too long; {reply.waiting} waiting now."
            body = md(":hourglass_flowing_sand: {}\n{}", text, join(lines))
            return message(text, [section(body)])
        case PendingOutcomes():
            return _outcomes(reply, registry, mask=mask)
        case SpikeUpdate():
            text = (
                f"{reply.total} failures since this started (was {reply.previous_total}); "
                f"{reply.count} in the last window, usual ≈ {reply.expected:g}."
            )
            return message(text, [section(f":chart_with_upwards_trend: {text}")])
        case DepositUpdate():
            left = reply.hours_left
            lasts = f", about {_for(left * 3600)} left" if left is not None else ""
            text = f"Deposit now {rupiah(reply.balance)} (was {rupiah(reply.previous)}){lasts}."
            return message(text, [section(f":moneybag: {text}")])
        case Resolved():
            return _resolved(incident, reply)
        case Acknowledged():
            told = md("Acknowledged by {}.", mention(reply.user_id))
            return message(told, [section(md(":eyes: {}", told))])
        case Rechecked():
            told = md(
                "Rechecked {} waiting transaction(s) at IAK on request of {}; IAK answered {}. "
                "Settled ones follow in this thread.",
                reply.asked,
                mention(reply.user_id),
                reply.answered,
            )
            return message(told, [section(told)])
        case ConflictSettled():
            said = _OUTCOME_WORDS[reply.said]
            rc = f" (rc {reply.rc})" if reply.rc else ""
            if reply.said == reply.before:
                text = f"IAK's own check confirms {said}{rc}."
            else:
                text = (
                    f"IAK's own check says {said}{rc}: the transaction is now stored as "
                    f"{said} (it was {_OUTCOME_WORDS[reply.before]})."
                )
            return message(text, [section(f":white_check_mark: {text}")])


_OUTCOME_WORDS = {
    Outcome.SUCCESS: "success",
    Outcome.FAILED: "failed",
    Outcome.PENDING: "pending",
    Outcome.UNKNOWN: "unknown",
}
_SOURCE_WORDS = {
    Source.CALLBACK: "IAK's callback",
    Source.INGEST: "the backend",
    Source.STATUS_CHECK: "IAK's status check",
}


def _conflict_parent(incident: Incident, d: ConflictDetails, *, mask: bool) -> Message:
    if incident.is_open:
        title = f":warning: Conflicting outcomes for {d.ref_id}"
        text = (
            f"Conflicting outcomes for {d.ref_id}: answers disagree on whether it succeeded; "
            "asking IAK."
        )
    else:
        said = _OUTCOME_WORDS[d.iak.outcome] if d.iak else _OUTCOME_WORDS[d.stored]
        title = f":white_check_mark: Settled: {d.ref_id} is {said}"
        text = f"Settled: IAK's own check says {d.ref_id} is {said}."
    lines = [md("`{}` · {} · {}", d.ref_id, d.product_code or "?", _customer(d.customer_id, mask))]
    for claim in d.claims:
        rc = f" (rc {claim.rc})" if claim.rc else ""
        lines.append(
            md(
                "• {}: {} said {}{}",
                wib_day(claim.at),
                _SOURCE_WORDS[claim.source],
                _OUTCOME_WORDS[claim.outcome],
                rc,
            )
        )
    if d.iak is None:
        lines.append(
            md("Stored: *{}* (the first final answer). Asking IAK…", _OUTCOME_WORDS[d.stored])
        )
    else:
        lines.append(md("IAK now says *{}*: stored as that.", _OUTCOME_WORDS[d.iak.outcome]))
    blocks: list[Block] = [header(truncate(title, 150)), section(join(lines))]
    if incident.is_open:
        blocks.append(
            context(
                "Do not refund or resend this yet. A callback's sign proves the ref_id, not the "
                "outcome: IAK's own check decides, and it follows in this thread."
            )
        )
    return message(text, blocks)


_SETTLED_WORDS = {
    Settlement.SUCCESS: ":white_check_mark: succeeded",
    Settlement.FAILED: ":x: failed",
    Settlement.GAVE_UP: ":zzz: still pending after 24 h: no longer checked",
}


def _outcomes(reply: PendingOutcomes, registry: Registry, *, mask: bool) -> Message:
    lines = []
    failed_rcs: dict[str, int] = {}
    for item in reply.items:
        failed = item.outcome is Settlement.FAILED
        suffix = f" (rc {item.rc})" if item.rc and failed else ""
        lines.append(
            md(
                "`{}` · {} · {}: {}{}",
                item.ref_id,
                item.product_code or "?",
                _customer(item.customer_id, mask),
                _SETTLED_WORDS[item.outcome],
                suffix,
            )
        )
        if failed and item.rc:
            failed_rcs[item.rc] = failed_rcs.get(item.rc, 0) + 1
    if reply.more:
        lines.append(md("_+{} more_", reply.more))
    blocks: list[Block] = [section(join(lines))]
    for rc, count in list(failed_rcs.items())[:5]:
        code = registry.rc(rc)
        if code is not None:
            blocks.append(
                section(
                    f"*{rc} {code.description}* ({count}): *{code.action.label}* "
                    f"({code.owner.label}). {code.advice}"
                )
            )
    done = len(reply.items) + reply.more
    return message(f"{done} long-pending top-up(s) settled.", blocks)


def _resolved(incident: Incident, reply: Resolved) -> Message:
    lasted = _for(reply.duration_seconds)
    if incident.kind is IncidentKind.PENDING:
        text = f"Resolved after {lasted}: all {reply.total} long-pending top-ups settled."
    elif incident.kind is IncidentKind.SPIKE:
        text = (
            f"Resolved after {lasted}: rc {incident.key} is back to normal; "
            f"{reply.total} failures in total."
        )
    elif incident.kind is IncidentKind.CALLBACKS:
        text = _("Resolved after {lasted}: IAK's callbacks are accepted again.").format(
            lasted=lasted
        )
    else:
        text = f"Resolved after {lasted}: the deposit is back to {rupiah(reply.balance)}."
    return message(text, [section(f":white_check_mark: {text}")])


# --- IAK's callbacks ----------------------------------------------------------------------

# Where the callback URL is set, per IAK_ENV.
IAK_CALLBACK_SETTINGS = {
    "development": "https://developer.iak.id/dev-setting",
    "production": "https://developer.iak.id/prod-setting",
}


def callbacks_title(d: CallbackDetails) -> str:
    """What is wrong with IAK's callbacks, in a few words."""
    if d.problem is CallbackProblem.MISSING:
        return _("IAK callbacks missing")
    return _("IAK callbacks refused")


def _callbacks_parent(incident: Incident, d: CallbackDetails) -> Message:
    if d.problem is CallbackProblem.MISSING:
        summary = _(
            "{count} outcomes in the last hour were learned by asking IAK, none by its callback."
        ).format(count=d.finals_without)
    else:
        summary = _("{count} callbacks refused in the last hour, none accepted since.").format(
            count=d.refused_count
        )
    if incident.is_open:
        title = f":satellite_antenna: {callbacks_title(d)}"
        text = f"{callbacks_title(d)}: {summary}"
    else:
        title = ":white_check_mark: " + _("Resolved: IAK's callbacks are accepted again")
        text = _("Resolved: IAK's callbacks are accepted again (it was: {summary})").format(
            summary=summary
        )
    lines: list[Mrkdwn] = []
    if d.problem is CallbackProblem.MISSING:
        settings = IAK_CALLBACK_SETTINGS.get(d.iak_env, IAK_CALLBACK_SETTINGS["production"])
        lines.append(
            md(
                _(
                    "*{count}* transactions reached a final outcome in the last hour "
                    "through the bot's re-checks or the backend's answers, and *none* "
                    "through IAK's callback."
                ),
                count=d.finals_without,
            )
        )
        lines.append(
            md(
                _(
                    "Likely cause: the callback URL is not set in {settings} ({env}): set it "
                    "to this bot's address followed by `/iak/callback`. Or IAK cannot reach "
                    "the bot (a firewall, or the app asleep)."
                ),
                settings=link(settings, _("IAK's developer settings")),
                env=d.iak_env,
            )
        )
    for refused in d.refused:
        lines.append(_refused_line(refused, d))
    blocks: list[Block] = [header(truncate(title, 150)), section(join(lines))]
    if incident.is_open:
        blocks.append(
            context(
                _(
                    "Outcomes still arrive through the bot's re-checks, only later. This "
                    "resolves when IAK's next callback is accepted."
                )
            )
        )
    return message(text, blocks)


def _refused_line(refused: RefusedCallbacks, d: CallbackDetails) -> Mrkdwn:
    at = wib(refused.last_at)
    if refused.reason is Refusal.BAD_SIGN:
        return md(
            _(
                "*{count}* refused for a wrong sign (401), the last at {at}. Likely cause: "
                "IAK_API_KEY is the key of the other environment (IAK_ENV is {env}; IAK "
                "signs each callback with the key of the environment that sends it)."
            ),
            count=refused.count,
            at=at,
            env=d.iak_env,
        )
    if refused.reason is Refusal.NOT_ALLOWED:
        return md(
            _(
                "*{count}* refused by CALLBACK_ALLOWED_IPS (403), the last from *{address}* "
                "at {at}. Likely cause: CALLBACK_ALLOWED_IPS refuses IAK's address: add "
                "{address} if it is IAK's (IAK documents {iak} for {env})."
            ),
            count=refused.count,
            address=refused.address or _("an unknown address"),
            at=at,
            iak=d.iak_address or "?",
            env=d.iak_env,
        )
    return md(
        _(
            "*{count}* refused as unreadable (400), the last at {at}: {detail}. Likely "
            "cause: a body we cannot read (not IAK's callback format, or a proxy that "
            "changes it)."
        ),
        count=refused.count,
        at=at,
        detail=refused.detail or "?",
    )


# --- Follow-ups: escalation, reminder, the end of a mute ---------------------------------


def _follow_up(
    incident: Incident, reply: Escalated | Reminder | MuteEnded, oncall: tuple[str, ...]
) -> Message:
    match reply:
        case Escalated():
            who = mentions(oncall) if oncall else md(_("Everyone"))
            told = md(
                _("{who}: nobody has acknowledged this for {open}. {changed}"),
                who=who,
                open=_for(reply.open_seconds),
                changed=_changed_since_open(incident),
            )
            return message(told, [section(md(":rotating_light: {}", told))])
        case Reminder():
            told = md(
                _(
                    "{who}: you acknowledged this {ago} ago and it is still open. Resolve "
                    "it, or hand it over."
                ),
                who=mention(reply.user_id),
                ago=_for(reply.acknowledged_seconds),
            )
            return message(told, [section(md(":alarm_clock: {}", told))])
        case MuteEnded():
            ended = (
                md(_("Mute by {who} ended"), who=mention(reply.muted_by))
                if reply.muted_by
                else md(_("The mute ended"))
            )
            if reply.more is None:
                told = md(_("{ended}; this is still open."), ended=ended)
            else:
                told = md(
                    _("{ended}; {more}."),
                    ended=ended,
                    more=_more_since(incident, max(reply.more, 0)),
                )
            return message(told, [section(md(":bell: {}", told))])


def _more_since(incident: Incident, more: int) -> str:
    if isinstance(incident.details, PendingDetails):
        return ngettext(
            "{count} more top-up pending too long since",
            "{count} more top-ups pending too long since",
            more,
        ).format(count=more)
    return ngettext("{count} more failure since", "{count} more failures since", more).format(
        count=more
    )


def _changed_since_open(incident: Incident) -> str:
    """What an escalation says has happened since the incident opened."""
    opened = wib(incident.opened_at)
    details = incident.details
    match details:
        case SpikeDetails():
            window = _for(details.window_seconds)
            return _(
                "{total} failures since it opened at {opened}; {count} in the last {window} "
                "(peak {peak})."
            ).format(
                total=details.total,
                opened=opened,
                count=details.count,
                window=window,
                peak=details.peak,
            )
        case PendingDetails():
            return _(
                "{total} top-ups joined since it opened at {opened}: {waiting} still waiting, "
                "{succeeded} succeeded, {failed} failed."
            ).format(
                total=details.total,
                opened=opened,
                waiting=details.waiting,
                succeeded=details.succeeded,
                failed=details.failed,
            )
        case DepositDetails():
            return _(
                "The deposit is {balance} now (lowest {lowest} since {opened}), below {threshold}."
            ).format(
                balance=rupiah(details.balance),
                lowest=rupiah(details.lowest),
                opened=opened,
                threshold=rupiah(details.threshold),
            )
        case CallbackDetails():
            return _(
                "Since {opened}: {finals} outcomes learned without a callback and {refused} "
                "callbacks refused in the last hour."
            ).format(opened=opened, finals=details.finals_without, refused=details.refused_count)
        case ConflictDetails():
            return _("IAK's own check has not settled it since {opened}.").format(opened=opened)
    return _("Open since {opened}.").format(opened=opened)
