"""Alert messages: an incident's parent message and its thread replies, as Block Kit.

Pure: the incident (with its typed figures) and the time in, a message out. The parent is
always rendered from the incident's current state, so a late or repeated edit shows the
truth. This is the only code that knows how an alert looks.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from babel.dates import format_datetime

from bot.alerts.model import (
    Acknowledged,
    CallbackDetails,
    CallbackProblem,
    ConflictDetails,
    ConflictSettled,
    DepositDetails,
    DepositUpdate,
    DigestChart,
    DigestDetails,
    Escalated,
    Incident,
    IncidentKind,
    Intent,
    Member,
    MuteEnded,
    PendingDetails,
    PendingJoined,
    PendingOutcomes,
    ProductOutageDetails,
    Rechecked,
    RefusedCallbacks,
    Reminder,
    Reply,
    Resolved,
    SerialAgain,
    SerialDetails,
    Settlement,
    SpikeDetails,
    SpikeUpdate,
    ThreadReply,
    stops_sales,
)
from bot.i18n import N_, _, babel_locale, ngettext
from bot.masking import mask_customer_id, mask_serial
from bot.outcomes import Outcome, Refusal, Source, code_key, split_code_key
from bot.registry import Registry
from bot.slack.blocks.cards import STOPS_SALES, remediation_blocks
from bot.slack.blocks.charts import sparkline
from bot.slack.blocks.digest import chart_note, digest_message
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
    number,
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
    """`28 Nov 14:05 WIB` (`28 Agu 14:05 WIB` in Indonesian): the month in the language."""
    day = format_datetime(moment.astimezone(WIB), "d MMM HH:mm", locale=babel_locale())
    return f"{day} WIB"


def _for(seconds: float) -> str:
    """`2 h 5 min` for a number of seconds (payloads store seconds)."""
    return duration(timedelta(seconds=max(seconds, 0)))


def _customer(value: str | None, mask: bool) -> str:
    if not value:
        return "—"
    return mask_customer_id(value) if mask else value


def _status_context(incident: Incident, now: datetime) -> Block:
    parts = [md(_("Opened {when}"), when=wib_day(incident.opened_at))]
    if not incident.is_open and incident.resolved_at is not None:
        parts.append(md(_("resolved {when}"), when=wib_day(incident.resolved_at)))
    if incident.acknowledged_by:
        parts.append(
            md(":eyes: " + _("Acknowledged by {person}"), person=mention(incident.acknowledged_by))
        )
    if incident.muted(now) and incident.muted_until is not None:
        until = wib(incident.muted_until)
        if incident.muted_by:
            muted = md(
                _("muted until {time} by {person}"), time=until, person=mention(incident.muted_by)
            )
        else:
            muted = md(_("muted until {time}"), time=until)
        parts.append(md(":no_bell: {}", muted))
    return context(join(parts, " · "))


ACK_ACTION = "incident_ack"
MUTE_ACTION = "incident_mute"
RECHECK_NOW_ACTION = "incident_recheck"
MUTE_CHOICES = (60, 240, 1440)


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
        case DigestDetails():
            return digest_message(details, registry)
        case SerialDetails():
            message = _serial_parent(incident, details, mask=mask)
        case ProductOutageDetails():
            message = _product_parent(incident, details, now, registry)
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
        elements.append(button(_("Acknowledge"), ACK_ACTION, key, style="primary"))
    if incident.kind is IncidentKind.PENDING:
        elements.append(button(_("Recheck now"), RECHECK_NOW_ACTION, key))
    options = [
        _option(
            _("Mute for {duration}").format(duration=_("{hours} h").format(hours=minutes // 60)),
            f"{key}:{minutes}",
        )
        for minutes in MUTE_CHOICES
    ]
    if incident.kind is IncidentKind.SPIKE:
        options.append(
            _option(
                _("Mute rc {rc} for 24 h, new incidents too").format(rc=incident.key),
                f"{key}:1440:all",
            )
        )
    if incident.kind is IncidentKind.PRODUCT:
        label = _("Mute {product} for 24 h, new incidents too").format(product=incident.key)
        options.append(_option(label, f"{key}:1440:all"))
    if incident.muted(now):
        options.insert(0, _option(_("Unmute"), f"{key}:0"))
    elements.append(
        {
            "type": "static_select",
            "action_id": MUTE_ACTION,
            "placeholder": plain(_("Muted") if incident.muted(now) else _("Mute…")),
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
    settled = _("{succeeded} succeeded · {failed} failed").format(
        succeeded=d.succeeded, failed=d.failed
    )
    if d.gave_up:
        settled += " · " + _("{count} no longer checked (24 h)").format(count=d.gave_up)
    if incident.is_open:
        title = ":hourglass_flowing_sand: " + ngettext(
            "{count} top-up pending too long", "{count} top-ups pending too long", d.waiting
        ).format(count=d.waiting)
        text = ngettext(
            "{count} top-up has been pending too long ({total} in this incident).",
            "{count} top-ups have been pending too long ({total} in this incident).",
            d.waiting,
        ).format(count=d.waiting, total=d.total)
    else:
        title = ":white_check_mark: " + ngettext(
            "Resolved: {total} long-pending top-up settled",
            "Resolved: {total} long-pending top-ups settled",
            d.total,
        ).format(total=d.total)
        text = _("Resolved: all {total} long-pending top-ups settled ({settled}).").format(
            total=d.total, settled=settled
        )
    blocks: list[Block] = [header(title)]
    blocks.append(
        section(
            _("*{waiting}* still pending of *{total}* · {settled}").format(
                waiting=d.waiting, total=d.total, settled=settled
            )
        )
    )
    if incident.is_open and d.members:
        lines = [
            md(
                _("{transaction} · pending {duration}"),
                transaction=_member_line(member, mask),
                duration=duration(now - member.started_at),
            )
            for member in d.members
        ]
        more = d.waiting - len(lines)
        if more > 0:
            lines.append(md("_{}_", _("+{count} more").format(count=more)))
        blocks.append(section(join(lines)))
        blocks.append(
            context(
                _(
                    "Do not refund or resend these yet: IAK may still complete them. "
                    "Outcomes follow in this thread; `/iak status <ref_id>` checks one now."
                )
            )
        )
    return message(text, blocks)


def _spike_parent(
    incident: Incident, d: SpikeDetails, now: datetime, registry: Registry
) -> Message:
    # the key names the line too (`postpaid 06`): the card is that table's row
    rc = incident.key
    code = registry.rc(d.rc, line=d.line)
    name = f"{rc} {code.description}" if code else f"rc {rc}"
    window = _for(d.window_seconds)
    if incident.is_open:
        if d.stops_sales:
            title = f"{STOPS_SALES} " + _("{name}: sales are failing").format(name=name)
        else:
            title = ":chart_with_upwards_trend: " + _(
                "{name}: {count} failures in {window}"
            ).format(name=name, count=number(d.count), window=window)
        text = _(
            "{name}: {count} failures in the last {window} ({total} since it started)."
        ).format(name=name, count=number(d.count), window=window, total=number(d.total))
    else:
        lasted = duration((incident.resolved_at or now) - incident.opened_at)
        title = ":white_check_mark: " + _("Resolved: {name}").format(name=name)
        text = _("Resolved: {name}, lasted {lasted}, {total} failures in total.").format(
            name=name, lasted=lasted, total=number(d.total)
        )
    blocks: list[Block] = [header(truncate(title, 150))]
    factor = d.count / d.expected if d.expected else 0
    lines = [
        _("*{count}* failures in the last {window} · usual ≈ {expected} per {window}").format(
            count=number(d.count), window=window, expected=number(round(d.expected, 2))
        )
        + (f" (*{factor:.0f}×*)" if factor >= 2 else ""),
        _("*{total}* since {time} · peak {peak} per {window}").format(
            total=number(d.total), time=wib(incident.opened_at), peak=number(d.peak), window=window
        ),
    ]
    if not incident.is_open:
        lasted = duration((incident.resolved_at or now) - incident.opened_at)
        lines.insert(
            0,
            _("Lasted *{lasted}*, *{total}* failures in total.").format(
                lasted=lasted, total=number(d.total)
            ),
        )
    if d.products:
        shown = list(d.products.items())[:5]
        lines.append(
            _("Products: {products}").format(
                products=", ".join(f"{p} ({number(n)})" for p, n in shown)
            )
        )
    if d.sparkline:
        lines.append(
            _("Last hour: {sparkline} (per 5 min)").format(sparkline=f"`{sparkline(d.sparkline)}`")
        )
    blocks.append(section(join(lines)))
    if code is not None and incident.is_open:
        blocks.extend(remediation_blocks(code))
    return message(text, blocks)


def _deposit_parent(incident: Incident, d: DepositDetails, registry: Registry) -> Message:
    if incident.is_open:
        title = ":moneybag: " + _("IAK deposit low: {balance}").format(balance=rupiah(d.balance))
        text = _("IAK deposit low: {balance}, below {threshold}.").format(
            balance=rupiah(d.balance), threshold=rupiah(d.threshold)
        )
    else:
        title = ":white_check_mark: " + _("Resolved: IAK deposit back to {balance}").format(
            balance=rupiah(d.balance)
        )
        text = _("Resolved: IAK deposit back to {balance}.").format(balance=rupiah(d.balance))
    lines = [
        _("Balance *{balance}* · threshold {threshold} · lowest {lowest}").format(
            balance=rupiah(d.balance), threshold=rupiah(d.threshold), lowest=rupiah(d.lowest)
        )
    ]
    if d.spend_per_hour:
        left = d.hours_left
        spend = rupiah(round(d.spend_per_hour))
        if left is not None:
            lines.append(
                _(
                    "Spending {spend} per hour over the last hour, about *{left}* left at "
                    "that rate."
                ).format(spend=spend, left=_for(left * 3600))
            )
        else:
            lines.append(_("Spending {spend} per hour over the last hour.").format(spend=spend))
    else:
        lines.append(_("Not enough sales in the last hour to estimate the spend rate."))
    blocks: list[Block] = [header(title), section(join(lines))]
    deposit = registry.rc("17")
    if incident.is_open and deposit is not None:
        links = join((link(page.url, page.title) for page in deposit.links), " · ")
        blocks.append(
            section(
                md(
                    _(
                        "When it runs out every sale fails with rc 17 (INSUFFICIENT DEPOSIT). "
                        "Top it up: {links}"
                    ),
                    links=links,
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
                lines.append(md("_{}_", _("+{count} more").format(count=reply.more)))
            count = len(reply.members) + reply.more
            text = ngettext(
                "{count} more top-up pending too long; {waiting} waiting now.",
                "{count} more top-ups pending too long; {waiting} waiting now.",
                count,
            ).format(count=count, waiting=reply.waiting)
            body = md(":hourglass_flowing_sand: {}\n{}", text, join(lines))
            return message(text, [section(body)])
        case PendingOutcomes():
            return _outcomes(reply, registry, mask=mask)
        case SpikeUpdate():
            text = _(
                "{total} failures since this started (was {previous}); "
                "{count} in the last window, usual ≈ {expected}."
            ).format(
                total=number(reply.total),
                previous=number(reply.previous_total),
                count=number(reply.count),
                expected=number(round(reply.expected, 2)),
            )
            return message(text, [section(f":chart_with_upwards_trend: {text}")])
        case DepositUpdate():
            left = reply.hours_left
            now_was = {"balance": rupiah(reply.balance), "previous": rupiah(reply.previous)}
            if left is not None:
                text = _("Deposit now {balance} (was {previous}), about {left} left.").format(
                    left=_for(left * 3600), **now_was
                )
            else:
                text = _("Deposit now {balance} (was {previous}).").format(**now_was)
            return message(text, [section(f":moneybag: {text}")])
        case Resolved():
            return _resolved(incident, reply)
        case Acknowledged():
            told = md(_("Acknowledged by {person}."), person=mention(reply.user_id))
            return message(told, [section(md(":eyes: {}", told))])
        case Rechecked():
            told = md(
                ngettext(
                    "Rechecked {asked} waiting transaction at IAK on request of {person}; IAK "
                    "answered {answered}. Settled ones follow in this thread.",
                    "Rechecked {asked} waiting transactions at IAK on request of {person}; IAK "
                    "answered {answered}. Settled ones follow in this thread.",
                    reply.asked,
                ),
                asked=reply.asked,
                person=mention(reply.user_id),
                answered=reply.answered,
            )
            return message(told, [section(told)])
        case SerialAgain():
            return _serial_again(reply, mask=mask)
        case ConflictSettled():
            said = _(_OUTCOME_WORDS[reply.said])
            rc = f" (rc {reply.rc})" if reply.rc else ""
            if reply.said == reply.before:
                text = _("IAK's own check confirms {outcome}{rc}.").format(outcome=said, rc=rc)
            else:
                text = _(
                    "IAK's own check says {outcome}{rc}: the transaction is now stored as "
                    "{outcome} (it was {before})."
                ).format(outcome=said, rc=rc, before=_(_OUTCOME_WORDS[reply.before]))
            return message(text, [section(f":white_check_mark: {text}")])
        case DigestChart():
            assert isinstance(incident.details, DigestDetails)
            return chart_note(incident.details)


_OUTCOME_WORDS = {
    Outcome.SUCCESS: N_("success"),
    Outcome.FAILED: N_("failed"),
    Outcome.PENDING: N_("pending"),
    Outcome.UNKNOWN: N_("unknown"),
}
_SOURCE_WORDS = {
    Source.CALLBACK: N_("IAK's callback"),
    Source.INGEST: N_("the backend"),
    Source.STATUS_CHECK: N_("IAK's status check"),
}


def _conflict_parent(incident: Incident, d: ConflictDetails, *, mask: bool) -> Message:
    if incident.is_open:
        title = ":warning: " + _("Conflicting outcomes for {ref_id}").format(ref_id=d.ref_id)
        text = _(
            "Conflicting outcomes for {ref_id}: answers disagree on whether it succeeded; "
            "asking IAK."
        ).format(ref_id=d.ref_id)
    else:
        said = _(_OUTCOME_WORDS[d.iak.outcome] if d.iak else _OUTCOME_WORDS[d.stored])
        title = ":white_check_mark: " + _("Settled: {ref_id} is {outcome}").format(
            ref_id=d.ref_id, outcome=said
        )
        text = _("Settled: IAK's own check says {ref_id} is {outcome}.").format(
            ref_id=d.ref_id, outcome=said
        )
    lines = [md("`{}` · {} · {}", d.ref_id, d.product_code or "?", _customer(d.customer_id, mask))]
    for claim in d.claims:
        rc = f" (rc {claim.rc})" if claim.rc else ""
        lines.append(
            md(
                "• " + _("{when}: {source} said {outcome}{rc}"),
                when=wib_day(claim.at),
                source=_(_SOURCE_WORDS[claim.source]),
                outcome=_(_OUTCOME_WORDS[claim.outcome]),
                rc=rc,
            )
        )
    if d.iak is None:
        lines.append(
            md(
                _("Stored: *{outcome}* (the first final answer). Asking IAK…"),
                outcome=_(_OUTCOME_WORDS[d.stored]),
            )
        )
    else:
        lines.append(
            md(
                _("IAK now says *{outcome}*: stored as that."),
                outcome=_(_OUTCOME_WORDS[d.iak.outcome]),
            )
        )
    blocks: list[Block] = [header(truncate(title, 150)), section(join(lines))]
    if incident.is_open:
        blocks.append(
            context(
                _(
                    "Do not refund or resend this yet. A callback's sign proves the ref_id, not "
                    "the outcome: IAK's own check decides, and it follows in this thread."
                )
            )
        )
    return message(text, blocks)


_SETTLED_WORDS = {
    Settlement.SUCCESS: (":white_check_mark:", N_("succeeded")),
    Settlement.FAILED: (":x:", N_("failed")),
    Settlement.GAVE_UP: (":zzz:", N_("still pending after 24 h: no longer checked")),
}


def _outcomes(reply: PendingOutcomes, registry: Registry, *, mask: bool) -> Message:
    lines = []
    failed_rcs: dict[str, int] = {}
    for item in reply.items:
        failed = item.outcome is Settlement.FAILED
        key = code_key(item.line, item.rc) if item.rc else None
        suffix = f" (rc {key})" if key and failed else ""
        lines.append(
            md(
                "`{}` · {} · {}: {}{}",
                item.ref_id,
                item.product_code or "?",
                _customer(item.customer_id, mask),
                _settled(item.outcome),
                suffix,
            )
        )
        if failed and key:
            failed_rcs[key] = failed_rcs.get(key, 0) + 1
    if reply.more:
        lines.append(md("_{}_", _("+{count} more").format(count=reply.more)))
    blocks: list[Block] = [section(join(lines))]
    for rc, count in list(failed_rcs.items())[:5]:
        line, number = split_code_key(rc)
        code = registry.rc(number, line=line)
        if code is not None:
            blocks.append(
                section(
                    f"*{rc} {code.description}* ({count}): *{code.action.label}* "
                    f"({code.owner.label}). {code.translated_advice}"
                )
            )
    done = len(reply.items) + reply.more
    settled = ngettext(
        "{count} long-pending top-up settled.", "{count} long-pending top-ups settled.", done
    )
    return message(settled.format(count=done), blocks)


def _settled(outcome: Settlement) -> str:
    emoji, words = _SETTLED_WORDS[outcome]
    return f"{emoji} {_(words)}"


def _resolved(incident: Incident, reply: Resolved) -> Message:
    lasted = _for(reply.duration_seconds)
    if incident.kind is IncidentKind.PENDING:
        text = _("Resolved after {lasted}: all {total} long-pending top-ups settled.").format(
            lasted=lasted, total=number(reply.total)
        )
    elif incident.kind is IncidentKind.SPIKE:
        text = _(
            "Resolved after {lasted}: rc {rc} is back to normal; {total} failures in total."
        ).format(lasted=lasted, rc=incident.key, total=number(reply.total))
    elif incident.kind is IncidentKind.SERIAL:
        text = _serial_resolved(reply, lasted)
    elif incident.kind is IncidentKind.PRODUCT:
        text = _(
            "Resolved after {lasted}: {product} is selling again; {total} failures in total."
        ).format(lasted=lasted, product=incident.key, total=number(reply.total))
    elif incident.kind is IncidentKind.CALLBACKS:
        text = _("Resolved after {lasted}: IAK's callbacks are accepted again.").format(
            lasted=lasted
        )
    else:
        text = _("Resolved after {lasted}: the deposit is back to {balance}.").format(
            lasted=lasted, balance=rupiah(reply.balance)
        )
    return message(text, [section(f":white_check_mark: {text}")])


def _product_parent(
    incident: Incident, d: ProductOutageDetails, now: datetime, registry: Registry
) -> Message:
    spike = d.spike
    product = d.product_code
    window = _for(spike.window_seconds)
    codes = " · ".join(_code_name(rc, registry) for rc in (d.rcs or {spike.rc: spike.count}))
    if incident.is_open:
        title = _(":no_entry: {product} cannot be sold: {count} failures in {window}").format(
            product=product, count=spike.count, window=window
        )
        text = _(
            "{product} cannot be sold: {count} failures in the last {window} "
            "({total} since it started)."
        ).format(product=product, count=spike.count, window=window, total=spike.total)
    else:
        lasted = duration((incident.resolved_at or now) - incident.opened_at)
        title = _(":white_check_mark: Resolved: {product} is selling again").format(product=product)
        text = _("Resolved: {product}, lasted {lasted}, {total} failures in total.").format(
            product=product, lasted=lasted, total=spike.total
        )
    lines = [
        codes,
        _("{count} failures in the last {window} · usual ≈ {expected} per {window}").format(
            count=spike.count, window=window, expected=f"{spike.expected:g}"
        ),
        _("{total} since {time} · peak {peak} per {window}").format(
            total=spike.total, time=wib(incident.opened_at), peak=spike.peak, window=window
        ),
    ]
    if spike.sparkline:
        lines.append(_("Last hour: {chart} (per 5 min)").format(chart=sparkline(spike.sparkline)))
    blocks: list[Block] = [header(truncate(title, 150)), section(text), section("\n".join(lines))]
    if incident.is_open:
        blocks.append(section(_alternatives(d)))
        code = registry.rc(spike.rc)
        if code is not None:
            blocks.extend(remediation_blocks(code))
    return message(text, blocks)


def _code_name(rc: str, registry: Registry) -> str:
    code = registry.rc(rc)
    return f"{rc} {code.description}" if code else f"rc {rc}"


def _alternatives(d: ProductOutageDetails) -> str:
    """What the price list offers instead, or why it offers nothing."""
    if d.price_list_at is None:
        return _(
            "IAK's price list is not cached yet: the bot is asking IAK, and the alternatives "
            "will show here. `/iak product <operator>` lists them now."
        )
    fetched = wib_day(d.price_list_at)
    if d.operator is None or d.nominal is None:
        return _(
            "{product} is not in IAK's price list (fetched {fetched}): no alternative to offer."
        ).format(product=d.product_code, fetched=fetched)
    if not d.alternatives:
        return _(
            "No other active {operator} {nominal} product in IAK's price list (fetched {fetched})."
        ).format(operator=d.operator, nominal=d.nominal, fetched=fetched)
    offered = ", ".join(
        f"{alternative.code} ({rupiah(alternative.price)})"
        if alternative.price is not None
        else alternative.code
        for alternative in d.alternatives
    )
    return _(
        "Sell instead (active {operator} {nominal} in IAK's price list, fetched {fetched}): "
        "{offered}"
    ).format(operator=d.operator, nominal=d.nominal, fetched=fetched, offered=offered)


def _delivery_line(member: Member, mask: bool) -> Mrkdwn:
    return md("{} · {}", _member_line(member, mask), wib_day(member.started_at))


def _serial_parent(incident: Incident, d: SerialDetails, *, mask: bool) -> Message:
    # Always masked, as on the status card: a voucher code or PLN token is worth money to
    # whoever reads it, whatever MASK_CUSTOMER_ID says of customer numbers.
    serial = mask_serial(d.serial)
    if incident.is_open:
        title = _(":rotating_light: Serial number {serial} delivered {count} times").format(
            serial=serial, count=d.total
        )
        text = _(
            "The same serial number {serial} was delivered by {count} successful top-ups "
            "with different ref_ids: one voucher or token sold twice, or a supplier error."
        ).format(serial=serial, count=d.total)
    else:
        title = _(":white_check_mark: Resolved: serial number {serial}").format(serial=serial)
        text = _("Resolved: serial number {serial}, delivered by {count} top-ups.").format(
            serial=serial, count=d.total
        )
    lines = [_delivery_line(member, mask) for member in d.members]
    more = d.total - len(d.members)
    if more > 0:
        lines.append(md("_{}_", _("+{count} more").format(count=more)))
    blocks: list[Block] = [header(truncate(title, 150)), section(text), section(join(lines))]
    if incident.is_open:
        blocks.append(
            context(
                _(
                    "Money is lost or a customer was cheated: check each with "
                    "`/iak status <ref_id>` and send IAK these ref_ids before refunding or "
                    "selling this product again."
                )
            )
        )
    return message(text, blocks)


def _serial_again(reply: SerialAgain, *, mask: bool) -> Message:
    text = _("Delivered again: {count} successful top-ups now have this serial number.").format(
        count=reply.total
    )
    lines = [_delivery_line(member, mask) for member in reply.members]
    blocks: list[Block] = [section(f":rotating_light: {text}")]
    if lines:
        blocks.append(section(join(lines)))
    return message(text, blocks)


def _serial_resolved(reply: Resolved, lasted: str) -> str:
    if reply.total is not None and reply.total < 2:
        return _(
            "Resolved after {lasted}: IAK's own checks leave one successful top-up with "
            "this serial number."
        ).format(lasted=lasted)
    return _(
        "Resolved after {lasted}: acknowledged, and no further top-up delivered this serial "
        "number for a day."
    ).format(lasted=lasted)


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
    if refused.reason is Refusal.TOO_LARGE:
        return md(
            _(
                "*{count}* refused as too large (413, over 64 KiB), the last at {at}. Likely "
                "cause: not IAK's callback (IAK's are well under 1 KiB), or a proxy that "
                "adds to the body."
            ),
            count=refused.count,
            at=at,
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
