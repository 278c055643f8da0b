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
    ConflictDetails,
    ConflictSettled,
    DepositDetails,
    DepositUpdate,
    Incident,
    IncidentKind,
    Intent,
    Member,
    PendingDetails,
    PendingJoined,
    PendingOutcomes,
    ProductOutageDetails,
    Rechecked,
    Reply,
    Resolved,
    SerialAgain,
    SerialDetails,
    Settlement,
    SpikeDetails,
    SpikeUpdate,
    ThreadReply,
)
from bot.i18n import _
from bot.masking import mask_customer_id, mask_serial
from bot.outcomes import Outcome, Source
from bot.registry import Registry
from bot.slack.blocks.cards import STOPS_SALES, remediation_blocks
from bot.slack.blocks.charts import sparkline
from bot.slack.blocks.durations import duration
from bot.slack.blocks.markup import Mrkdwn, join, link, md, mention
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
    intent: Intent, incident: Incident, now: datetime, registry: Registry, *, mask: bool
) -> Message:
    """What an outbox row says: a thread reply, or the parent as the incident stands now."""
    if isinstance(intent, ThreadReply):
        return reply_message(incident, intent.reply, registry, mask=mask)
    return parent_message(incident, now, registry, mask=mask)


def parent_message(incident: Incident, now: datetime, registry: Registry, *, mask: bool) -> Message:
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
        case SerialDetails():
            message = _serial_parent(incident, details, mask=mask)
        case ProductOutageDetails():
            message = _product_parent(incident, details, now, registry)
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
    if incident.kind is IncidentKind.PRODUCT:
        label = _("Mute {product} for 24 h, new incidents too").format(product=incident.key)
        options.append(_option(label, f"{key}:1440:all"))
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


def reply_message(incident: Incident, reply: Reply, registry: Registry, *, mask: bool) -> Message:
    """A thread reply."""
    match reply:
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
        case SerialAgain():
            return _serial_again(reply, mask=mask)
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
    elif incident.kind is IncidentKind.SERIAL:
        text = _serial_resolved(reply, lasted)
    elif incident.kind is IncidentKind.PRODUCT:
        text = _(
            "Resolved after {lasted}: {product} is selling again; {total} failures in total."
        ).format(lasted=lasted, product=incident.key, total=reply.total)
    else:
        text = f"Resolved after {lasted}: the deposit is back to {rupiah(reply.balance)}."
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
