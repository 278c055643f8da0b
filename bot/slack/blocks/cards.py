"""Remediation cards and the other answers of `/iak code`, `/iak codes` and `/iak help`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.i18n import N_, _
from bot.registry import (
    Line,
    Matches,
    Owner,
    Provenance,
    Registry,
    Resend,
    ResponseCode,
    SeenAs,
    Sold,
    Status,
    Table,
    Unknown,
)
from bot.slack.blocks.markup import Mrkdwn, as_mrkdwn, is_user_id, join, md, mention
from bot.slack.blocks.outcomes import STATUS_EMOJI, STATUS_WORDS
from bot.slack.blocks.text import (
    Block,
    Message,
    actions,
    button,
    context,
    header,
    link_button,
    message,
    plain_section,
    section,
    truncate,
)

STOPS_SALES = ":rotating_light:"
CHECK_REFUSED = ":no_entry_sign:"
TABLE_NAMES = {
    Table.HTTP: N_("HTTP"),
    Table.PREPAID: N_("Prepaid"),
    Table.GAME: N_("Game inquiry"),
    Table.POSTPAID: N_("Postpaid"),
}
# What the request that got a code sold or paid, per line (see `Sold`).
SOLD_SENTENCES = {
    Line.PREPAID: {
        Sold.YES: N_("It was sold."),
        Sold.NO: N_("Nothing was sold."),
        Sold.UNKNOWN: N_("Whether it was sold is unknown: it may still land."),
    },
    Line.POSTPAID: {
        Sold.YES: N_("It was paid."),
        Sold.NO: N_("Nothing was paid."),
        Sold.UNKNOWN: N_("Whether it was paid is unknown: it may still go through."),
    },
}
# What sending it again means, per line (see `Resend`): the one sentence a card says about it.
RESEND_SENTENCES = {
    Line.PREPAID: {
        Resend.SAME_REF_ID: N_(
            "Send it again only with the same ref_id (IAK answers a ref_id it knows with that "
            "transaction, so it cannot sell twice), and only those not refunded or cancelled "
            "meanwhile."
        ),
        Resend.NEW_REF_ID: N_(
            "Selling it again is a new sale: a new ref_id (the same one only returns this "
            "answer), and only for those not refunded or cancelled meanwhile."
        ),
        Resend.NEVER: N_("Do not send it again, under any ref_id."),
        Resend.WAIT: N_(
            "Do not send it again yet, and never under a new ref_id: recheck it with "
            "`/iak status <ref_id>` (the same ref_id) until it ends."
        ),
    },
    Line.POSTPAID: {
        Resend.SAME_REF_ID: N_(
            "Send the same request again (the same ref_id; for a payment, the same tr_id), "
            "and only for those not refunded or cancelled meanwhile."
        ),
        Resend.NEW_REF_ID: N_(
            "Paying it again starts over: a new inquiry with a new ref_id, then pay its "
            "tr_id; only for those not refunded or cancelled meanwhile."
        ),
        Resend.PAY_TR_ID: N_(
            "Pay the inquiry's tr_id if the customer still wants it: no new inquiry, so no "
            "new ref_id."
        ),
        Resend.NEVER: N_("Do not pay it again, under any ref_id."),
        Resend.WAIT: N_(
            "Do not pay again or make a new inquiry yet: check its status with "
            "`/iak status pp <ref_id>` until it ends."
        ),
    },
}
# Codes that mean "this product": their cards point at the product's price-list entry.
PRODUCT_CODES = frozenset({"20", "106"})
SHARE_ACTION = "share_card"
SHOW_CARD_ACTION = "show_card"
MAX_SEARCH_LINES = 10
MAX_SEARCH_BUTTONS = 5


@dataclass(frozen=True)
class CommandHelp:
    """One line of `/iak help`: how to call a subcommand and what it does (marked with `N_`,
    translated where shown)."""

    usage: str
    does: str


def status_badge(status: Status) -> str:
    """`:x: *Failed*`: the status with its emoji."""
    return f"{STATUS_EMOJI[status]} *{status_word(status)}*"


def status_word(status: Status) -> str:
    """`Failed` (`Gagal`): IAK's status column in the current language."""
    return _(STATUS_WORDS[status])


def code_line(code: ResponseCode, *, tagged: bool = False) -> Mrkdwn:
    """One line per code for lists: code, description, what to do; `tagged` names the table."""
    stops = f" {STOPS_SALES}" if code.stops_sales else ""
    table = f"{_(TABLE_NAMES[code.table])} " if tagged else ""
    return md("{}`{}` {}{} — _{}_", table, code.code, code.description, stops, code.action.label)


def provenance_note(code: ResponseCode) -> str | None:
    """Where IAK's words on the card come from, when not from IAK's live table."""
    if code.source is Provenance.SEED:
        return None
    if code.table is Table.POSTPAID:
        return _(
            "From IAK's postpaid response-code table (reference documentation); postpaid "
            "answers carry it as `response_code`."
        )
    return _("From IAK's reference documentation (added after the published table).")


def homonym_note(homonym: ResponseCode) -> str:
    """`06` here is not `06` there: what the other line's code with this number means."""
    return _("In IAK's {table} table, {code} means something else: {description}").format(
        table=_(TABLE_NAMES[homonym.table]).lower(),
        code=homonym.code,
        description=homonym.description,
    )


def resend_sentence(code: ResponseCode) -> str:
    """What the code says was sold (paid) and what sending it again means, from its facts."""
    line = code.table.line
    sold = _(SOLD_SENTENCES[line][code.sold])
    # Prepaid has no tr_id to pay; the registry refuses that pairing (resend_rule_offences).
    resend = RESEND_SENTENCES[line].get(code.resend) or RESEND_SENTENCES[line][Resend.NEVER]
    return f"{sold} {_(resend)}"


def remediation_blocks(code: ResponseCode, *, seen: SeenAs = SeenAs.ANSWER) -> list[Block]:
    """The body of a remediation card: status, what to do, IAK's own solution (no header).

    `seen`: whether the code is the transaction's own answer, or the bot's check-status
    being refused, which says nothing of the transaction: then the card is about the check.
    """
    if seen is SeenAs.REFUSED_CHECK:
        return _refused_check_blocks(code)
    badges = [status_badge(code.status)]
    if code.stops_sales:
        badges.append(STOPS_SALES + " *" + _("Stops all sales") + "*")
    badges.append(_("Who acts: *{owner}*").format(owner=code.owner.label))
    blocks: list[Block] = [context("   ".join(badges))]
    if code.table is Table.HTTP:
        blocks.append(section(code.description))
    what_to_do = _("What to do: {action}").format(action=code.action.label)
    blocks.append(
        section(
            f"*{what_to_do}* ({code.owner.label})\n*{resend_sentence(code)}*\n"
            f"{code.translated_advice}"
        )
    )
    blocks.append(section(md("*{}*\n>{}", _("IAK's solution"), code.solution)))
    provenance = provenance_note(code)
    if provenance:
        blocks.append(context(provenance))
    return blocks


def refused_check_action() -> str:
    """What to do about a refused check, in a few words (the fallback text's)."""
    return _("Fix the check and recheck")


def refused_check_advice(line: Line) -> str:
    """What a refused check means for the transaction: nothing; so touch nothing, fix the check."""
    if line is Line.POSTPAID:
        return _(
            "IAK refused the bot's check, so this says nothing about the bill payment: whether "
            "it was paid is unknown. Do not refund it, pay it again or make a new inquiry. Fix "
            "the check (the environment in IAK_ENV, the bot's key, or the ref_id) and recheck."
        )
    return _(
        "IAK refused the bot's check, so this says nothing about the transaction: its outcome "
        "is unknown. Do not refund it or send it again, under any ref_id. Fix the check (the "
        "environment in IAK_ENV, the bot's key, or the ref_id) and recheck."
    )


def _refused_check_blocks(code: ResponseCode) -> list[Block]:
    badges = [
        f"{CHECK_REFUSED} *" + _("Check refused") + "*",
        _("Who acts: *{owner}*").format(owner=Owner.US.label),
    ]
    what_to_do = _("What to do: {action}").format(action=refused_check_action())
    blocks: list[Block] = [
        context("   ".join(badges)),
        section(f"*{what_to_do}* ({Owner.US.label})\n*{refused_check_advice(code.table.line)}*"),
        section(md("*{}*\n>{}", _("IAK's solution"), code.solution)),
    ]
    provenance = provenance_note(code)
    if provenance:
        blocks.append(context(provenance))
    return blocks


def remediation_card(
    code: ResponseCode,
    *,
    note: str | None = None,
    homonym: ResponseCode | None = None,
    shared_by: str | None = None,
    shareable: bool = True,
) -> Message:
    """The card for one response code, with link buttons and (unless shared) a Share button.

    `homonym` is the other line's code with the same number and another meaning (see
    `Registry.homonym`): the card says what that one means, for whoever looked up the wrong one.
    """
    blocks: list[Block] = [header(code.title)]
    if note:
        blocks.append(plain_section(note))
    if homonym is not None:
        blocks.append(context(f":warning: {homonym_note(homonym)} (`/iak code {homonym.key}`)."))
    blocks.extend(remediation_blocks(code))
    if code.code in PRODUCT_CODES and code.table is not Table.HTTP:
        pp = "pp " if code.table is Table.POSTPAID else ""
        blocks.append(
            context(
                _("See how IAK lists the product now: {command}.").format(
                    command="`/iak product " + pp + "<" + _("product code") + ">`"
                )
            )
        )
    elements = [
        link_button(link.label, link.url, f"link_{index}") for index, link in enumerate(code.links)
    ]
    if shareable and shared_by is None:
        # The key names the row in both tables ("17", "postpaid 11"): the click finds it again.
        elements.append(button(_("Share in channel"), SHARE_ACTION, code.key))
    if elements:
        blocks.append(actions(*elements, block_id=f"card_{_slug(code)}"))
    if shared_by is not None and is_user_id(shared_by):
        blocks.append(
            context(
                md(
                    _("Shared by {person}") + " · `/iak code {}`",
                    code.key,
                    person=mention(shared_by),
                )
            )
        )
    text = _("{title} ({status}). What to do: {action}. {advice}").format(
        title=code.title,
        status=status_word(code.status),
        action=code.action.label,
        advice=f"{resend_sentence(code)} {code.translated_advice}",
    )
    if homonym is not None:
        text = f"{text} ({homonym_note(homonym)}.)"
    if note:
        text = f"{note} {text}"
    return message(text, blocks)


def _slug(code: ResponseCode) -> str:
    """The row's key as an identifier: `17`, `postpaid_11`."""
    return code.key.replace(" ", "_")


def codes_list(registry: Registry, line: Line = Line.PREPAID) -> Message:
    """One line's codes, grouped by status: the answer to `/iak codes [postpaid]`."""
    postpaid = line is Line.POSTPAID
    blocks: list[Block] = [
        header(_("IAK postpaid response codes") if postpaid else _("IAK response codes"))
    ]
    order = (Status.FAILED, Status.PENDING, Status.SUCCESS)
    groups = registry.by_status(line)
    for status in order:
        codes = groups.get(status, [])
        if not codes:
            continue
        title = f"{status_badge(status)} ({len(codes)})"
        blocks.extend(_line_sections(title, [code_line(code) for code in codes]))
    if postpaid:
        hint = _(
            "`/iak code pp <code>` for the full card · `/iak codes` for the prepaid codes · "
            "{emoji} stops all sales"
        ).format(emoji=STOPS_SALES)
    else:
        http_lines = [md("`{}` {}", code.code, code.description) for code in registry.http_rows()]
        blocks.extend(_line_sections("*" + _("HTTP status of IAK's answer") + "*", http_lines))
        hint = _(
            "`/iak code <code>` for the full card · `/iak code <words>` to search · "
            "`/iak codes postpaid` for the postpaid codes · {emoji} stops all sales"
        ).format(emoji=STOPS_SALES)
    blocks.append(context(hint))
    total = sum(len(codes) for codes in groups.values())
    if postpaid:
        text = _("{count} IAK postpaid response codes, grouped by status.")
    else:
        text = _("{count} IAK response codes, grouped by status.")
    return message(text.format(count=total), blocks)


def _line_sections(title: str, lines: Sequence[str]) -> list[Block]:
    """A titled list, split into as many sections as the 3,000-character limit needs."""
    out: list[Block] = []
    current = [as_mrkdwn(title)]
    size = len(current[0])
    for line in map(as_mrkdwn, lines):
        if size + 1 + len(line) > 2900:
            out.append(section(join(current)))
            current, size = [line], len(line)
        else:
            current.append(line)
            size += 1 + len(line)
    out.append(section(join(current)))
    return out


def search_results(result: Matches) -> Message:
    """Codes matching the words of `/iak code <words>`, best first, each with its table."""
    shown = result.codes[:MAX_SEARCH_LINES]
    blocks: list[Block] = [
        header(truncate(_("Codes matching “{query}”").format(query=result.query), 150))
    ]
    if result.corrected:
        blocks.append(
            plain_section(
                _("Nothing matched “{query}”; showing “{corrected}”.").format(
                    query=result.query, corrected=result.corrected
                )
            )
        )
    lines: list[str] = [
        md("{} {}", STATUS_EMOJI[code.status], code_line(code, tagged=True)) for code in shown
    ]
    if len(result.codes) > len(shown):
        more = _("+{count} more: add words to narrow it down").format(
            count=len(result.codes) - len(shown)
        )
        lines.append(f"_{more}_")
    blocks.extend(_line_sections(_("Best match first:"), lines))
    blocks.append(
        actions(
            *(
                button(truncate(code.title, 75), f"{SHOW_CARD_ACTION}_{_slug(code)}", code.key)
                for code in shown[:MAX_SEARCH_BUTTONS]
            ),
            block_id="search_results",
        )
    )
    best = shown[0]
    text = _("{count} codes match. Best: {title} ({status}), {action}.").format(
        count=len(result.codes),
        title=best.title,
        status=status_word(best.status),
        action=best.action.label,
    )
    return message(text, blocks)


def unknown_code(result: Unknown) -> Message:
    """Nothing matched: say so plainly and offer the closest known codes."""
    query = truncate(result.query, 100)
    if result.suggestions:
        if result.line is Line.POSTPAID:
            lead = _("“{query}” is not a known IAK postpaid code.")
        elif result.line is Line.PREPAID:
            lead = _("“{query}” is not a known IAK prepaid code.")
        else:
            lead = _("“{query}” is not a known IAK code.")
    elif result.line is Line.POSTPAID:
        lead = _("Nothing in IAK's postpaid response codes matches “{query}”.")
    elif result.line is Line.PREPAID:
        lead = _("Nothing in IAK's prepaid response codes matches “{query}”.")
    else:
        lead = _("Nothing in IAK's response codes matches “{query}”.")
    lead = lead.format(query=query)
    blocks: list[Block] = [plain_section(lead)]
    text = lead
    if result.suggestions:
        lines = join(code_line(code, tagged=True) for code in result.suggestions)
        blocks.append(section(md("*{}*\n{}", _("Closest known codes"), lines)))
        text += " " + _("Closest: {codes}.").format(
            codes=", ".join(code.key for code in result.suggestions)
        )
    blocks.append(
        context(
            _(
                "`/iak codes` lists every code (`/iak codes postpaid` the postpaid ones) · "
                "`/iak code <words>` searches their descriptions"
            )
        )
    )
    return message(text, blocks)


def help_message(commands: Sequence[CommandHelp], *, note: str | None = None) -> Message:
    """Usage of `/iak`: every subcommand with an example."""
    blocks: list[Block] = [header(_("/iak: IAK response codes and transactions"))]
    if note:
        blocks.append(plain_section(note))
    lines = [f"`{entry.usage}`  {_(entry.does)}" for entry in commands]
    blocks.extend(_line_sections("*" + _("Commands") + "*", lines))
    text = _("Usage: {commands}").format(commands="; ".join(entry.usage for entry in commands))
    if note:
        text = f"{note} {text}"
    return message(text, blocks)
